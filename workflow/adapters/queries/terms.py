"""The packaged remote-support terms a customer consents to (read only)."""

from workflow.adapters.session_store import TERMS_LANGUAGES, Terms, load_terms

__all__ = ["TERMS_LANGUAGES", "Terms", "load_terms"]
