from resetdesk.cli import app

app(prog_name="resetdesk")
