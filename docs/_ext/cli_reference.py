"""``.. jaxmlp-cli::``: every ``jaxmlp`` subcommand, its usage and options, from the parser.

The page is rendered from :func:`jaxmlp.cli.build_parser` at build time, so it lists exactly the
subcommands and options that ``jaxmlp --help`` shows (nested subcommands such as ``jaxmlp data
download`` included), each option with its help, choices and default.
"""

from __future__ import annotations

import argparse
import re

from sphinx.util.docutils import SphinxDirective

UNDERLINES = "=-~^"  #: the page title is "=", each level of subcommands one further


def escape(text: str) -> str:
    """Text as reStructuredText shows it literally (no emphasis, links or substitutions)."""
    return re.sub(r"([\\*`_|])", r"\\\1", " ".join(str(text).split()))


def subcommands(parser: argparse.ArgumentParser):
    """``[(name, subparser, help)]`` of the parser's subcommands, in the order they were added."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {choice.dest: choice.help for choice in action._choices_actions}
            return [(name, sub, helps.get(name, "")) for name, sub in action.choices.items()]
    return []


def option_lines(parser: argparse.ArgumentParser) -> list[str]:
    """A definition list per argument group: the flags (or positional name), help, default."""
    formatter = parser._get_formatter()
    lines = []
    for group in parser._action_groups:
        actions = [
            a
            for a in group._group_actions
            if a.help is not argparse.SUPPRESS and not isinstance(a, argparse._SubParsersAction)
        ]
        if not actions:
            continue
        lines += [f".. rubric:: {escape(group.title.capitalize())}", ""]
        for action in actions:
            flags = ", ".join(action.option_strings) or (action.metavar or action.dest)
            metavar = (
                formatter._format_args(action, action.dest.upper()) if action.nargs != 0 else ""
            )
            term = f"``{flags}{' ' + metavar if metavar and action.option_strings else ''}``"
            help_text = formatter._expand_help(action) if action.help else ""
            help_text = re.sub(r"\s*\(default: [^()]*(\([^()]*\)[^()]*)*\)$", "", help_text)
            more = []
            if action.choices is not None and not isinstance(action.choices, dict):
                more.append("choices: " + ", ".join(f"``{c}``" for c in action.choices))
            if (
                action.option_strings
                and action.default not in (None, False, argparse.SUPPRESS)
                and action.nargs != 0
            ):
                more.append(f"default: ``{action.default}``")
            lines += [term, f"   {escape(help_text) or '(no help)'}"]
            lines += [f"   {'; '.join(more)}." if more else "", ""]
    return lines


def command_lines(
    prog: str, parser: argparse.ArgumentParser, help_text: str, depth: int
) -> list[str]:
    """The section of one (sub)command and, below it, its own subcommands."""
    lines = [prog, UNDERLINES[depth] * len(prog), ""] if depth else []
    if help_text:
        lines += [f"*{escape(help_text)}*", ""]
    usage = parser.format_usage().replace("usage: ", "", 1).rstrip()
    lines += ["::", "", *("   " + line for line in usage.splitlines()), ""]
    if parser.description:
        lines += [escape(parser.description), ""]
    lines += option_lines(parser)
    if parser.epilog:
        lines += [escape(parser.epilog), ""]
    for name, sub, sub_help in subcommands(parser):
        lines += command_lines(f"{prog} {name}", sub, sub_help, depth + 1)
    return lines


class CommandLine(SphinxDirective):
    """Render the whole ``jaxmlp`` command line."""

    def run(self):
        import jaxmlp.cli

        self.env.note_dependency(jaxmlp.cli.__file__)
        parser = jaxmlp.cli.build_parser()
        return self.parse_text_to_nodes(
            "\n".join(command_lines("jaxmlp", parser, "", 0)), allow_section_headings=True
        )


def setup(app):
    app.add_directive("jaxmlp-cli", CommandLine)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
