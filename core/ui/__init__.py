"""The only Streamlit glue: auth gate, navigation registry, cached resources, shared widgets."""
