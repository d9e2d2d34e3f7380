"""Message bodies as plain text (``scraper.pages.text.block_text``): the constructs a body can hold."""

from __future__ import annotations

import pytest
from selectolax.lexbor import LexborHTMLParser

from scraper.pages.text import block_text, normalise_paragraphs


def body(inner: str) -> str:
    node = LexborHTMLParser(f'<html><body><div id="b">{inner}</div></body></html>').css_first("#b")
    assert node is not None
    return block_text(node)


@pytest.mark.parametrize(
    ("inner", "text"),
    [
        ("<p>a<br>b</p><p>c</p>", "a\nb\n\nc"),
        ("<p>one\n<br>two\n<br>three</p>\n\n<p>four</p>", "one\ntwo\nthree\n\nfour"),
        # a text node whose previous sibling is a block starts a paragraph ...
        ("<p>a</p>b", "a\n\nb"),
        ("<div>a</div>  b", "a\n\nb"),
        ("<blockquote>q<p>inner</p>tail</blockquote>", "q\n\ninner\n\ntail"),
        # ... but not text inside an inline element after the block, nor text after a <br> after it
        ("<p>a</p><a href='/x'>x</a>", "ax"),
        ("<p>a</p><br>b", "a\nb"),
        ("x<div></div>y", "x\n\ny"),
        ("a<hr>b", "a\n\nb"),
        ("<ul><li>one</li><li>two</li></ul>", "one\n\ntwo"),
        ("<table><tr><td>a</td><td>b</td></tr></table>", "ab"),
        # line breaks: runs of blank lines become one
        ("<p>a<br><br><br><br>b</p>", "a\n\nb"),
        ("<p><br>a<br></p>", "a"),
        ("<p>a<br> <br>b</p>", "a\n\nb"),
        # whitespace inside a line collapses, non-breaking and other Unicode spaces included
        ("<p>  a \t\n b  </p>", "a b"),
        ("<p>a&nbsp;&nbsp;b\xa0c</p>", "a b c"),
        ("<p>Ünï\u3000cödé\u2028x — “q” 中文 🙂</p>", "Ünï cödé x — “q” 中文 🙂"),
        # entities are decoded once
        ("<p>Tom &amp; Jerry &lt;x&gt; &quot;q&quot; &#39;a&#39; &amp;lt;</p>", "Tom & Jerry <x> \"q\" 'a' &lt;"),
        ("<p>&copy; &eacute; &#x1F600;</p>", "© é 😀"),
        # attribute values, even holding '>' or markup, add nothing
        ('<p title="a>b" data-x=\'<p>y</p>\'>x</p>', "x"),
        ('<p><a href="x>y" title=\'a>b\'>link</a> after</p>', "link after"),
        # comments, scripts, styles, templates and noscript add no text
        ("<p>a<!-- <p>hidden</p> > -->c</p>", "ac"),
        ("<p>a<script>var x = '<p>b</p>';</script>c</p>", "ac"),
        ("<style>p > a { color: red }</style><p>a</p>", "a"),
        ("<p>a<template><p>t</p></template>b</p>", "ab"),  # a template's content is not in the tree
        ("<noscript>n</noscript><p>a</p>", "a"),
        # raw text other than script and style is text
        ("<p>a<textarea>b<b>c</b></textarea></p>", "ab<b>c</b>"),
        # inline markup nested in blocks, and mis-nested markup as the parser repairs it
        ("<p><b>bo<i>ld</i></b> and <em>em</em></p>", "bold and em"),
        ("<b><p>mis</b>nest</p>", "misnest"),
        ("<span>" * 60 + "deep" + "</span>" * 60, "deep"),
        ("<div>" * 30 + "deep" + "</div>" * 30, "deep"),
        # empty bodies
        ("", ""),
        ("<p></p><p> </p>\n\n", ""),
    ],
)
def test_block_text(inner: str, text: str) -> None:
    assert body(inner) == text


def test_block_text_of_nothing() -> None:
    assert block_text(None) == ""


@pytest.mark.parametrize(
    ("raw", "text"),
    [
        ("\x00a\x01b\x00\x00c", "a\nb\n\nc"),
        ("  a  \x01  b  ", "a\nb"),
        ("a\x01\x01\x01\x01b", "a\n\nb"),
        ("\x01\x01a\x01\x01", "a"),
        ("a\nb", "a b"),
        ("a\x0bb\x1cc\x85d", "a b c d"),
        ("\x00 \x00\t\x00", ""),
        ("a\u200bb", "a\u200bb"),
    ],
)
def test_normalise_paragraphs(raw: str, text: str) -> None:
    assert normalise_paragraphs(raw) == text
