"""The agents' and supervisors' pages (server-rendered, htmx), over the same read models and
commands as the JSON API."""
