"""What the fastnn documentation adds to Sphinx.

- ``.. fastnn-commands::``: the reference of the ``fastnn`` command, generated from its argparse
  parser (``fastnn.cli.build_parser``): each command's ``--help`` as the command prints it.
- ``image_files``: a sphinx-gallery image scraper that picks up the images an example wrote to
  its working folder (``autodiff.draw``, ``plots.network_diagram``), SVG or PNG, in order.
"""

import argparse
import os
import shutil
from pathlib import Path

from docutils import nodes
from docutils.statemachine import StringList
from sphinx.util.docutils import SphinxDirective
from sphinx.util.nodes import nested_parse_with_titles

#: Width of the help text in columns (what fits the width of a page).
HELP_WIDTH = "100"


def _help_texts():
    """[(command line, help text)] of ``fastnn`` and each of its commands, in the parser's order."""
    from fastnn.cli import build_parser

    saved = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = HELP_WIDTH
    try:
        parser = build_parser()
        texts = [("fastnn", parser.format_help())]
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                texts += [(f"fastnn {name}", sub.format_help()) for name, sub in action.choices.items()]
        return texts
    finally:
        if saved is None:
            os.environ.pop("COLUMNS", None)
        else:
            os.environ["COLUMNS"] = saved


class FastnnCommands(SphinxDirective):
    """One section per command with its ``--help`` text."""

    def run(self):
        lines = []
        for title, text in _help_texts():
            lines += [title, "~" * len(title), "", ".. code-block:: text", ""]
            lines += ["   " + line if line.strip() else "" for line in text.rstrip().splitlines()]
            lines.append("")
        container = nodes.section()
        container.document = self.state.document
        nested_parse_with_titles(self.state, StringList(lines, source="fastnn.cli.build_parser"), container)
        return container.children


IMAGE_SUFFIXES = (".svg", ".png")


def image_files(block, block_vars, gallery_conf):
    """Move the images the example's code block wrote to its folder into the gallery's image folder.

    Returns the reStructuredText that shows them (sphinx-gallery's ``figure_rst``).
    """
    from sphinx_gallery.scrapers import figure_rst

    folder = Path(block_vars["src_file"]).parent
    written = sorted((p for p in folder.iterdir() if p.suffix in IMAGE_SUFFIXES), key=lambda p: p.stat().st_mtime_ns)
    names = []
    for path in written:
        target = Path(next(block_vars["image_path_iterator"])).with_suffix(path.suffix)
        shutil.move(path, target)
        names.append(str(target))
    return figure_rst(names, gallery_conf["src_dir"])


def setup(app):
    app.add_directive("fastnn-commands", FastnnCommands)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
