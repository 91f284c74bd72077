# ruff: noqa: RUF001  (Russian letters and names)
"""The operator's page, the CRM card and the CRM pages speak Russian and English: every key
the scripts and pages use is in both ``web/i18n/ru.json`` and ``en.json``, the two files
agree (keys, plural forms, {placeholders}), and no user-visible text is left hard-coded in
the scripts or the HTML (a heuristic: literals with letters that are an element's text, a
visible attribute or text property, and HTML text nodes, must come from ``t()`` /
``data-i18n``). The amoCRM widget's own i18n files agree with each other and the manifest."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any, ClassVar

import pytest

WEB = Path(__file__).resolve().parents[1] / "src" / "api_gateway" / "web"
SCRIPTS = sorted(p for p in WEB.rglob("*.js") if "amocrm" not in p.parts)
PAGES = sorted(WEB.rglob("*.html"))
LANGS = ("ru", "en")
#: Words that are the same in every language (names, not prose).
SAME_IN_EVERY_LANGUAGE = {"callbridge", "CRM", "Русский", "English"}
LETTERS = re.compile(r"[A-Za-zА-Яа-яЁё]{2,}")
VISIBLE_ATTRS = ("title", "aria-label", "placeholder", "alt")


def _messages(lang: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((WEB / "i18n" / f"{lang}.json").read_text("utf-8"))
    return data


def _placeholders(value: Any) -> set[str]:
    texts = value.values() if isinstance(value, dict) else [value]
    return {name for text in texts for name in re.findall(r"\{(\w+)\}", str(text))}


# --- a small JavaScript tokenizer: enough to find string literals and calls --------------


def _tokens(source: str) -> list[tuple[str, str]]:
    """(kind, text): kind is "str" (quoted or template; template ${…} parts blanked),
    "name", "punct". Comments dropped. Regex literals are not expected in these files."""
    out: list[tuple[str, str]] = []
    i, n = 0, len(source)
    while i < n:
        c = source[i]
        if source.startswith("//", i):
            i = source.find("\n", i) if "\n" in source[i:] else n
        elif source.startswith("/*", i):
            i = source.index("*/", i) + 2
        elif c in "\"'":
            j = i + 1
            while source[j] != c:
                j += 2 if source[j] == "\\" else 1
            out.append(("str", source[i + 1 : j]))
            i = j + 1
        elif c == "`":
            j, depth, text = i + 1, 0, []
            while depth or source[j] != "`":
                if source[j] == "\\":
                    j += 2
                    continue
                if source.startswith("${", j) and depth == 0:
                    depth, j = 1, j + 2
                    text.append(" ")
                    continue
                if depth:
                    depth += {"{": 1, "}": -1}.get(source[j], 0)
                else:
                    text.append(source[j])
                j += 1
            out.append(("str", "".join(text)))
            i = j + 1
        elif c.isalnum() or c in "_$":
            j = i
            while j < n and (source[j].isalnum() or source[j] in "_$"):
                j += 1
            out.append(("name", source[i:j]))
            i = j
        elif c.isspace():
            i += 1
        else:
            out.append(("punct", c))
            i += 1
    return out


def _wordy(text: str) -> bool:
    words = LETTERS.findall(re.sub(r"https?://\S*", " ", text))  # an example address
    return any(w not in SAME_IN_EVERY_LANGUAGE for w in words)


def _children_literals(tokens: list[tuple[str, str]]) -> list[str]:
    """String literals given as children of h(tag, attrs, ...children) — directly or through
    a ternary/array — not inside a nested call (a nested h() is checked on its own; t(),
    formatters and .join() make their own text)."""
    found: list[str] = []
    for k in range(len(tokens) - 1):
        if tokens[k] != ("name", "h") or tokens[k + 1] != ("punct", "("):
            continue
        if k and tokens[k - 1] == ("punct", "."):
            continue
        depth, arg, j = 0, 0, k + 1
        while j < len(tokens):
            kind, text = tokens[j]
            if kind == "punct" and text in "([{":
                is_call = text == "(" and j > k + 1 and tokens[j - 1][0] == "name"
                if is_call and depth >= 1:  # skip a nested call entirely
                    level, j = 1, j + 1
                    while level:
                        if tokens[j][0] == "punct":
                            level += {"(": 1, ")": -1}.get(tokens[j][1], 0)
                        j += 1
                    continue
                depth += 1
            elif kind == "punct" and text in ")]}":
                depth -= 1
                if depth == 0:
                    break
            elif kind == "punct" and text == "," and depth == 1:
                arg += 1
            elif kind == "str" and arg >= 2 and _wordy(text):
                compared = tokens[j - 1] == ("punct", "=") or tokens[j + 1] == ("punct", "=")
                if not compared:  # kind === "company" is a value, not text
                    found.append(text)
            j += 1
    return found


def _visible_literals(source: str) -> list[str]:
    """Literals assigned to text properties or visible attributes."""
    literal = r"""(?:"([^"\\]*)"|'([^'\\]*)'|`([^`]*)`)"""
    patterns = [
        rf"\.(?:textContent|innerText|title|placeholder)\s*=\s*{literal}",
        rf"""(?:["']?(?:title|placeholder|alt|aria-label)["']?)\s*:\s*{literal}""",
        rf"""setAttribute\(\s*["'](?:{"|".join(VISIBLE_ATTRS)})["']\s*,\s*{literal}""",
        rf"""\b(?:toast|showSignIn)\(\s*{literal}""",
    ]
    found = []
    for pattern in patterns:
        for match in re.finditer(pattern, source):
            text = next(g for g in match.groups() if g is not None)
            if _wordy(re.sub(r"\$\{[^}]*\}", " ", text)):
                found.append(text)
    return found


def _script_keys(source: str) -> set[str]:
    return set(re.findall(r"""\bt\(\s*["']([^"']+)["']""", source))


class _Page(HTMLParser):
    """Keys a page uses (data-i18n, data-i18n-attr) and its text/attributes not from them."""

    VOID: ClassVar[set[str]] = {
        "meta",
        "link",
        "input",
        "br",
        "img",
        "hr",
        "source",
        "area",
        "base",
        "col",
        "wbr",
    }

    def __init__(self) -> None:
        super().__init__()
        self.keys: set[str] = set()
        self.stack: list[bool] = []  # per open element: its text comes from data-i18n
        self.hard_coded: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if "data-i18n" in a:
            self.keys.add(a["data-i18n"])
        from_attr = {}
        for pair in a.get("data-i18n-attr", "").split(";"):
            if ":" in pair:
                name, key = (s.strip() for s in pair.split(":", 1))
                from_attr[name] = key
                self.keys.add(key)
        for name in VISIBLE_ATTRS:
            if name in a and name not in from_attr and _wordy(a[name]):
                self.hard_coded.append(f'<{tag} {name}="{a[name]}">')
        if tag not in self.VOID:
            self.stack.append("data-i18n" in a)

    def handle_endtag(self, tag: str) -> None:
        if tag not in self.VOID and self.stack:
            self.stack.pop()

    def handle_data(self, data: str) -> None:
        if data.strip() and _wordy(data) and not (self.stack and self.stack[-1]):
            self.hard_coded.append(data.strip())


def _page(path: Path) -> _Page:
    parser = _Page()
    parser.feed(path.read_text("utf-8"))
    return parser


def test_ru_and_en_have_the_same_keys_plural_forms_and_placeholders() -> None:
    ru, en = _messages("ru"), _messages("en")
    assert sorted(ru) == sorted(en)
    for key in en:
        assert _placeholders(ru[key]) == _placeholders(en[key]), key
        for lang, value in (("ru", ru[key]), ("en", en[key])):
            if isinstance(value, dict):
                assert "other" in value, (lang, key)
                assert set(value) <= {"zero", "one", "two", "few", "many", "other"}, (lang, key)
            else:
                assert isinstance(value, str), (lang, key)
                assert value.strip(), (lang, key)
    # Russian plurals need one/few/many (1 звонок, 2 звонка, 5 звонков)
    for key, value in ru.items():
        if isinstance(value, dict):
            assert {"one", "few", "many"} <= set(value), key
    untranslated = [
        k
        for k in en
        if isinstance(en[k], str) and en[k] == ru[k] and _wordy(re.sub(r"\{\w+\}", "", en[k]))
    ]
    assert untranslated == [], f"the same text in ru and en: {untranslated}"


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: str(p.relative_to(WEB)))
def test_every_key_a_script_uses_is_in_both_languages(script: Path) -> None:
    source = script.read_text("utf-8")
    assert not re.search(r"\bt\(\s*`", source), "t() with a built key: keys must be literal"
    for lang in LANGS:
        missing = _script_keys(source) - set(_messages(lang))
        assert missing == set(), f"{script.name}: not in {lang}.json: {sorted(missing)}"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(WEB)))
def test_every_key_a_page_uses_is_in_both_languages(page: Path) -> None:
    keys = _page(page).keys
    for lang in LANGS:
        missing = keys - set(_messages(lang))
        assert missing == set(), f"{page.name}: not in {lang}.json: {sorted(missing)}"


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: str(p.relative_to(WEB)))
def test_no_user_visible_literal_in_a_script(script: Path) -> None:
    source = script.read_text("utf-8")
    found = _children_literals(_tokens(source)) + _visible_literals(source)
    assert found == [], f"{script.name}: text not from t(): {found}"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(WEB)))
def test_no_user_visible_text_in_a_page(page: Path) -> None:
    assert _page(page).hard_coded == []


def test_the_checks_catch_hard_coded_text() -> None:
    """The heuristics above fail on the shapes of untranslated text they look for."""
    js = """
      node.textContent = "Loading…";
      h("button", { type: "button", "aria-label": "Close the card" }, "Close");
      h("p", {}, ok ? t("card.ok") : "Not in the CRM yet.", h("span", { class: "x y" }));
      status.textContent = `Could not call ${n}`;
      h("li", {}, format(c, "inbound words"), ` · ${t("card.deal")}`);
    """
    found = _children_literals(_tokens(js)) + _visible_literals(js)
    expected = ["Close", "Not in the CRM yet.", "Loading…", "Close the card", "Could not call ${n}"]
    assert sorted(found) == sorted(expected)
    parser = _Page()
    parser.feed(
        '<p data-i18n="k"></p><p>Sign in</p><input placeholder="any"><b title="x1">callbridge</b>'
    )
    assert parser.hard_coded == ["Sign in", '<input placeholder="any">']
    assert _script_keys("t(\"a.b\", { n }); t('c')") == {"a.b", "c"}


def test_the_amocrm_widget_carries_both_languages() -> None:
    folder = WEB / "crm" / "amocrm"
    manifest = json.loads((folder / "manifest.json").read_text("utf-8"))
    files = {
        lang: json.loads((folder / "i18n" / f"{lang}.json").read_text("utf-8")) for lang in LANGS
    }

    def paths(tree: dict[str, Any], prefix: str = "") -> set[str]:
        out: set[str] = set()
        for key, value in tree.items():
            out |= paths(value, f"{prefix}{key}.") if isinstance(value, dict) else {prefix + key}
        return out

    assert paths(files["ru"]) == paths(files["en"])
    assert set(manifest["widget"]["locale"]) == set(LANGS)
    named = [manifest["widget"][k] for k in ("name", "description", "short_description")]
    named += [s["name"] for s in manifest["settings"].values()]
    for lang in LANGS:
        assert set(named) <= paths(files[lang]), lang
    script = (folder / "script.js").read_text("utf-8")
    for section, key in re.findall(r"""text\("(\w+)",\s*"(\w+)\"""", script):
        for lang in LANGS:
            assert key in files[lang][section], (lang, section, key)
