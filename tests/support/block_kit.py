"""Slack's Block Kit limits, checked on a message as Slack would get it, independently of the code that
builds it: the numbers are Slack's Block Kit reference's, and `slack_sdk`'s own models check it again.

    header   text plain_text, at most 150 characters
    section  text at most 3,000 characters; at most 10 fields, each at most 2,000; text or fields
    actions  at most 25 elements; a button's text at most 75 characters, its url at most 3,000,
             action_id at most 255 and unique within the block
    context  at most 10 elements
    message  at most 50 blocks; block_id at most 255
"""

from __future__ import annotations

from typing import Any

from slack_sdk.errors import SlackObjectFormationError
from slack_sdk.models.blocks import Block

__all__ = ["block_kit_problems", "texts"]


def block_kit_problems(message: dict[str, Any]) -> list[str]:
    """Every limit the message's blocks break, by block index; [] for a message Slack takes."""
    blocks = message.get("blocks", [])
    problems = [f"{len(blocks)} blocks, more than 50"] if len(blocks) > 50 else []
    for i, block in enumerate(blocks):
        problems += [f"blocks[{i}] ({block.get('type')}): {p}" for p in _block_problems(block)]
        try:
            parsed = Block.parse(block)
            assert parsed is not None, f"blocks[{i}]: slack_sdk does not know {block.get('type')}"
            parsed.validate_json()
        except SlackObjectFormationError as exc:
            problems.append(f"blocks[{i}]: slack_sdk: {exc}")
    if not isinstance(message.get("text"), str) or not message["text"]:
        problems.append("no fallback text")
    return problems


def texts(message: dict[str, Any]) -> list[str]:
    """Every text of the message's blocks, in order."""
    out = []
    for block in message.get("blocks", []):
        for part in [block.get("text"), *block.get("fields", []), *block.get("elements", [])]:
            if isinstance(part, dict):
                out.append(part["text"] if isinstance(part.get("text"), str) else part.get("text", {}).get("text", ""))
    return out


def _block_problems(block: dict[str, Any]) -> list[str]:
    problems = []
    if len(block.get("block_id", "")) > 255:
        problems.append("block_id over 255")
    kind = block.get("type")
    if kind == "header":
        text = block.get("text", {})
        if text.get("type") != "plain_text":
            problems.append("header text is not plain_text")
        if len(text.get("text", "")) > 150:
            problems.append(f"header text of {len(text['text'])} characters, more than 150")
    elif kind == "section":
        text, fields = block.get("text"), block.get("fields", [])
        if text is None and not fields:
            problems.append("neither text nor fields")
        if text is not None and len(text.get("text", "")) > 3000:
            problems.append(f"section text of {len(text['text'])} characters, more than 3000")
        if len(fields) > 10:
            problems.append(f"{len(fields)} fields, more than 10")
        problems += [f"field {j} over 2000" for j, f in enumerate(fields) if len(f.get("text", "")) > 2000]
    elif kind == "actions":
        elements = block.get("elements", [])
        if len(elements) > 25:
            problems.append(f"{len(elements)} elements, more than 25")
        ids = [e.get("action_id") for e in elements if e.get("action_id")]
        if len(ids) != len(set(ids)):
            problems.append("action_id repeated")
        for j, e in enumerate(elements):
            if len(e.get("text", {}).get("text", "")) > 75:
                problems.append(f"button {j} text over 75")
            if len(e.get("url", "")) > 3000:
                problems.append(f"button {j} url over 3000")
            if len(e.get("action_id", "")) > 255:
                problems.append(f"button {j} action_id over 255")
    elif kind == "context":
        if len(block.get("elements", [])) > 10:
            problems.append("more than 10 context elements")
    else:
        problems.append(f"a {kind} block, which these messages never hold")
    return problems
