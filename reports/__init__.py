"""Pure builders: data in, bytes out (PDFs, figures, CSV, images). No DB, no Streamlit."""
