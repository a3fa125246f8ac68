"""Sphinx extension: a built book that reads offline, without script errors.

jupyter-book 1.x always loads sphinx-thebe, even with ``launch_buttons.thebe:
false``. sphinx-thebe adds an inline script declaring ``const THEBE_JS_URL``
(an unpkg.com address) once per reading pass, so every page declared it twice
and the browser reported "Uncaught SyntaxError: Identifier 'THEBE_JS_URL' has
already been declared". The book does not use Thebe (live code needs a
server), so this extension removes Thebe's scripts from every page.
``tests/html`` checks the result; ``make browser-check`` renders every page
and fails on any console error.
"""


def _is_thebe(script):
    filename = str(getattr(script, "filename", script) or "")
    body = getattr(script, "attributes", {}).get("body", "")
    return "thebe" in filename or "THEBE_JS_URL" in body


def _drop_thebe_scripts(app, pagename, templatename, context, doctree):
    scripts = context.get("script_files")
    if scripts:
        context["script_files"] = [
            script for script in scripts if not _is_thebe(script)
        ]


def setup(app):
    app.connect("html-page-context", _drop_thebe_scripts)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
