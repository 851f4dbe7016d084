"""Case import from CSV (§6 `import-cases`): the public names, from a pure parser and a writer.

`core.import_parse` turns the file into typed rows or row errors (no database); `core.import_write` adds what
only the database knows (case numbers taken), writes cases with their timelines, and runs the whole file in one
transaction: a file with a bad row writes nothing unless `skip_bad` is given. Import from here.
"""

from core.import_parse import (
    CANCELLED_REASON,
    EXAMPLE_CSV,
    MAX_CALLBACKS,
    MILESTONES,
    OPTIONAL,
    REFUSED_REASON,
    REQUIRED,
    ImportFileError,
    ImportRow,
    RowError,
    Transition,
    consistency_problems,
    parse_rows,
    transitions,
)
from core.import_write import (
    ImportPreview,
    ImportReport,
    import_cases,
    import_text,
    preview_import,
    run_import,
    validate_against_db,
)

__all__ = [
    "CANCELLED_REASON", "EXAMPLE_CSV", "MAX_CALLBACKS", "MILESTONES", "OPTIONAL", "REFUSED_REASON", "REQUIRED",
    "ImportFileError", "ImportPreview", "ImportReport", "ImportRow", "RowError", "Transition", "consistency_problems",
    "import_cases", "import_text", "parse_rows", "preview_import", "run_import", "transitions", "validate_against_db",
]
