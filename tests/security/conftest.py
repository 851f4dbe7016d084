"""The security tests share the root conftest's fixtures (the browser among them)."""
