"""`streamlit run app.py` with one Streamlit default corrected: app.py routes with st.navigation.

Streamlit decides on the first browser session after the server started whether the app is a "pages/ folder"
app: a `pages/` folder next to app.py makes it so until the first st.navigation call. That first session then
builds a second navigation from the file names and, on any URL other than the start page (a deep link, a
client's status link), shows "Page not found" over the right page. Our pages live in `pages/` but are routed by
core.ui.navigation only, so the folder is not scanned. Run as `python -m core.ui.server [streamlit options]`.
"""

from __future__ import annotations

import sys

from core.settings import ROOT


def command(*options: str) -> list[str]:
    """The command line that runs the app with the given `streamlit run` options."""
    return [sys.executable, "-m", "core.ui.server", *options]


def main(options: list[str]) -> int:
    from streamlit.runtime.pages_manager import PagesManager
    from streamlit.web import cli

    PagesManager.uses_pages_directory = False
    sys.argv = ["streamlit", "run", str(ROOT / "app.py"), *options]
    return cli.main()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
