"""What counts as a definition in each grammar, and what to call it.

One table for every grammar: node kinds are named consistently enough across tree-sitter grammars
(``*_definition``, ``*_declaration``, ``*_item``, ``*_specifier``) that a union of kinds works, with
wrappers (decorators, ``export``, ``template``, ``const f = () => ...``) resolved to what they wrap.
Covers at least Python, JavaScript, TypeScript/TSX, Go, Rust, Java, C, C++, C#, Ruby, PHP, Kotlin,
Swift and Scala; other grammars get whatever of this applies to them.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from codeweaver.core.languages import get_language

__all__ = [
    "ATTACHABLE_KINDS",
    "KindTable",
    "definition_body",
    "definition_label",
    "is_attachable",
    "kind_table",
    "resolve_definition",
]

Node = Any  # tree_sitter.Node; kept loose so this module imports nothing heavy

# Kinds that are always a function-like definition.
FUNCTION_KINDS = frozenset(
    {
        "function_definition",
        "function_declaration",
        "function_item",
        "function_signature_item",
        "generator_function_declaration",
        "method_definition",
        "method_declaration",
        "constructor_declaration",
        "destructor_declaration",
        "operator_declaration",
        "conversion_operator_declaration",
        "local_function_statement",
        "method",
        "singleton_method",
        "init_declaration",
        "deinit_declaration",
        "subscript_declaration",
        "protocol_function_declaration",
        "secondary_constructor",
        "anonymous_initializer",
        "macro_definition",
        "function_signature",
        "abstract_method_signature",
        "indexer_declaration",
    }
)

# Kinds that are a container-like definition (its members are split out when it is too big).
CONTAINER_KINDS = frozenset(
    {
        "class_definition",
        "class_declaration",
        "abstract_class_declaration",
        "class_specifier",
        "struct_specifier",
        "union_specifier",
        "enum_specifier",
        "struct_item",
        "enum_item",
        "union_item",
        "trait_item",
        "impl_item",
        "mod_item",
        "interface_declaration",
        "enum_declaration",
        "record_declaration",
        "record_struct_declaration",
        "annotation_type_declaration",
        "struct_declaration",
        "namespace_declaration",
        "file_scoped_namespace_declaration",
        "namespace_definition",
        "internal_module",
        "module",
        "class",
        "singleton_class",
        "trait_declaration",
        "object_declaration",
        "companion_object",
        "object_definition",
        "trait_definition",
        "enum_definition",
        "protocol_declaration",
        "extension_declaration",
        "type_declaration",
        "impl_declaration",
    }
)

DEFINITION_KINDS = FUNCTION_KINDS | CONTAINER_KINDS

# Nodes that wrap a definition: the definition is found among their named children.
WRAPPER_KINDS = frozenset(
    {
        "decorated_definition",
        "export_statement",
        "template_declaration",
        "ambient_declaration",
        "lexical_declaration",
        "variable_declaration",
        "variable_declarator",
        "expression_statement",
        "assignment_expression",
        "declaration",
        "type_definition",
        "field_declaration",
        "public_field_definition",
        "field_definition",
    }
)

# Values that make ``const f = ...`` / ``a.b = ...`` a definition.
FUNCTION_VALUE_KINDS = frozenset(
    {"arrow_function", "function_expression", "function", "generator_function", "class"}
)

# Leading nodes that describe the definition that follows them.
ATTACHABLE_KINDS = frozenset(
    {
        "comment",
        "line_comment",
        "block_comment",
        "doc_comment",
        "attribute_item",
        "decorator",
        "annotation",
        "marker_annotation",
        "attribute_list",
        "attribute",
    }
)

_NAME_KINDS = frozenset(
    {
        "identifier",
        "type_identifier",
        "simple_identifier",
        "field_identifier",
        "property_identifier",
        "constant",
        "name",
        "namespace_identifier",
        "qualified_identifier",
        "scoped_identifier",
        "scoped_type_identifier",
        "destructor_name",
        "operator_name",
        "namespace_name",
        "package_identifier",
        "string",
        "user_type",
    }
)

_FUNCTION_WORD = {
    "python": "def",
    "ruby": "def",
    "scala": "def",
    "rust": "fn",
    "go": "func",
    "swift": "func",
    "kotlin": "fun",
}

# Container word by kind fragment, most specific first.
_CONTAINER_WORDS = (
    ("impl", "impl"),
    ("mod_item", "mod"),
    ("trait", "trait"),
    ("interface", "interface"),
    ("enum", "enum"),
    ("union", "union"),
    ("struct", "struct"),
    ("record", "record"),
    ("namespace", "namespace"),
    ("internal_module", "namespace"),
    ("protocol", "protocol"),
    ("extension", "extension"),
    ("object", "object"),
    ("type_declaration", "type"),
    ("module", "module"),
    ("annotation_type", "@interface"),
    ("class", "class"),
)


def is_attachable(kind: str) -> bool:
    return kind in ATTACHABLE_KINDS or kind.endswith("comment")


# Kinds that are only a definition with a body (``namespace Foo;``, ``mod foo;`` are statements).
_NEEDS_BODY = frozenset(
    {
        "namespace_definition",
        "namespace_declaration",
        "mod_item",
        "module",
        "internal_module",
    }
)

# Nodes that hold definitions the way a body does, however many children they have: a parse
# error around code (C macros, new syntax), preprocessor conditionals, JS object literals,
# anonymous class bodies.
_SCOPE_KINDS = frozenset(
    {
        "ERROR",
        "preproc_if",
        "preproc_ifdef",
        "preproc_else",
        "preproc_elif",
        "preproc_elifdef",
        "object",
        "class_body",  # an anonymous class (Java ``new X() { ... }``, a JS class expression)
    }
)

# Kinds that hold the members of a definition, for grammars without a ``body`` field.
_BODY_KINDS = frozenset(
    {
        "block",
        "class_body",
        "declaration_list",
        "field_declaration_list",
        "template_body",
        "body_statement",
        "statement_block",
        "compound_statement",
        "enum_body",
        "interface_body",
        "protocol_body",
        "enum_class_body",
        "function_body",
        "object_body",
    }
)


# Anonymous tokens that close a bracket or a block: they belong with the piece before them.
_CLOSERS = frozenset({"}", ")", "]", "end", "fi", "done", "esac", "endif", "endwhile", "endfor"})
# Nodes whose children are the statements or members of a body (each one is content, not header).
_BODY_LIKE = _BODY_KINDS | frozenset(
    {
        "module",
        "program",
        "source_file",
        "translation_unit",
        "compilation_unit",
        "chunk",
        "statement_list",
        "switch_block_statement_group",
        "enum_body_declarations",
    }
)
_NOT_BODY = frozenset({"heredoc_body", "nowdoc_body", "block_comment", "block_parameters"})


def _is_body(kind: str) -> bool:
    """Whether ``kind`` holds statements or members: ``block``, ``*_block``, ``*_body``,
    ``*declaration_list`` and the kinds above, across grammars."""
    if kind in _NOT_BODY:
        return False
    return (
        kind in _BODY_LIKE
        or kind.endswith(("_body", "_block", "declaration_list"))
        or kind.startswith("block")
    )


# Category bits of a node kind (see :class:`KindTable`).
NAMED = 1
MAYBE_DEF = 2  # a definition kind or a wrapper that may hold one: resolve_definition() decides
ATTACH = 4  # a comment, decorator or attribute (belongs to the definition below it)
SCOPE = 8  # split into its children however many it has (ERROR, #if, object literals, ...)
BODY = 16  # a body: its named children are statements or members
FUNC_VALUE = 32  # a function value: its body's statements matter like a definition's
CLOSER = 64  # a closing bracket or ``end``
GLUE = 128  # stays with what precedes it on the same line (a trailing comment, ``;``, ``,``)
PROSE = 256  # a comment or string: cut at paragraphs and sentences before lines
DEF_KIND = 512  # always a definition (resolve_definition() returns the node itself)


class KindTable:
    """Per-language facts about node kinds, indexed by ``Node.kind_id``: an integer lookup
    instead of string comparisons on the hot path.

    ``cats[kind_id]`` holds the category bits above; ``names[kind_id]`` the kind's name.
    """

    __slots__ = ("cats", "names")

    def __init__(self, cats: dict[int, int], names: dict[int, str]) -> None:
        self.cats = cats
        self.names = names


@cache
def kind_table(language: str) -> KindTable:
    """The :class:`KindTable` of ``language``'s grammar (built once per process)."""
    lang = get_language(language)
    cats: dict[int, int] = {}
    names: dict[int, str] = {}
    for kid in [*range(lang.node_kind_count), 0xFFFF]:  # 0xFFFF: ERROR
        name = lang.node_kind_for_id(kid) or ""
        named = bool(lang.node_kind_is_named(kid))
        cat = NAMED if named else 0
        if named and name in DEFINITION_KINDS | WRAPPER_KINDS:
            cat |= MAYBE_DEF
            if name in DEFINITION_KINDS and name not in _NEEDS_BODY:
                cat |= DEF_KIND
        if is_attachable(name):
            cat |= ATTACH | GLUE
        if named and name in _SCOPE_KINDS:
            cat |= SCOPE
        if named and _is_body(name):
            cat |= BODY
        if named and name in FUNCTION_VALUE_KINDS:
            cat |= FUNC_VALUE
        if not named and name in _CLOSERS:
            cat |= CLOSER
        if not named and len(name) <= 2:
            cat |= GLUE
        if "comment" in name or "string" in name or "heredoc" in name:
            cat |= PROSE
        cats[kid] = cat
        names[kid] = name
    return KindTable(cats, names)


def resolve_definition(node: Node) -> Node | None:
    """The definition ``node`` is or wraps, or None when it is not a definition."""
    kind = node.type
    if kind in DEFINITION_KINDS:
        if not node.is_named:
            return None
        if kind in _NEEDS_BODY and node.child_by_field_name("body") is None:
            return None
        return node
    if kind not in WRAPPER_KINDS:
        return None
    return _unwrap(node, 0)


def definition_body(definition: Node) -> Node | None:
    """The child of a definition that holds its members or statements, if it has one."""
    body = definition.child_by_field_name("body")
    if body is not None:
        return body
    for child in reversed(definition.named_children):
        if child.type in _BODY_KINDS:
            return child
    return None


def _unwrap(node: Node, depth: int) -> Node | None:
    kind = node.type
    if kind == "expression_statement":
        # Every Python statement is one: look at what it holds, not at a list of its children
        # (TS ``namespace N {}``, JS ``a.b = function () {}``).
        return resolve_definition(node.named_child(0)) if node.named_child_count else None
    if kind in ("declaration", "type_definition", "field_declaration"):
        # C/C++: `struct s {...};`, `typedef struct {...} T;` are definitions when they have a body.
        for child in node.named_children:
            if child.type in CONTAINER_KINDS and child.child_by_field_name("body") is not None:
                return child
        return None
    if kind in ("lexical_declaration", "variable_declaration"):
        for child in node.named_children:
            if child.type == "variable_declarator":
                value = child.child_by_field_name("value")
                if value is not None and value.type in FUNCTION_VALUE_KINDS:
                    return child
        return None
    if kind == "variable_declarator":
        value = node.child_by_field_name("value")
        return node if value is not None and value.type in FUNCTION_VALUE_KINDS else None
    if kind in ("public_field_definition", "field_definition"):
        value = node.child_by_field_name("value")
        return node if value is not None and value.type in FUNCTION_VALUE_KINDS else None
    if kind == "assignment_expression":
        right = node.child_by_field_name("right")
        return node if right is not None and right.type in FUNCTION_VALUE_KINDS else None
    if depth >= 2:
        return None
    for child in node.named_children:
        if child.type in DEFINITION_KINDS:
            return child
        if child.type in WRAPPER_KINDS:
            inner = _unwrap(child, depth + 1)
            if inner is not None:
                return inner
    return None


def definition_label(node: Node, data: bytes, language: str) -> str:
    """A short label for a definition, e.g. ``def parse``, ``class Parser``, ``impl Tr for S``."""
    table = _LABELS.get(language)
    if table is None:
        name_id = get_language(language).field_id_for_name("name")
        table = _LABELS[language] = {-1: ("", name_id or -1)}
    kid = node.kind_id
    entry = table.get(kid)
    if entry is None:
        entry = table[kid] = _label_entry(node, data, language)
    word, mode = entry
    if mode == _PLAIN:
        name_id = table[-1][1]
        name_node = node.child_by_field_id(name_id) if name_id >= 0 else None
    else:
        if mode == _INIT:
            return word
        if mode == _IMPL:
            target = node.child_by_field_name("type")
            if target is not None:
                trait = node.child_by_field_name("trait")
                name = _text(target, data)
                if trait is not None:
                    name = f"{_text(trait, data)} for {name}"
                return f"{word} {name}"
        elif mode == _GO_METHOD:
            receiver = node.child_by_field_name("receiver")
            name_node = node.child_by_field_name("name")
            if receiver is not None and name_node is not None:
                params = receiver.named_children
                rtype = params[0].child_by_field_name("type") if params else None
                shown = f"({_text(rtype, data)}) " if rtype is not None else ""
                return f"{word} {shown}{_text(name_node, data)}"
        elif mode == _SWIFT:  # Swift says which it is: class / struct / extension / enum
            decl = node.child_by_field_name("declaration_kind")
            word = _text(decl, data) if decl is not None else "class"
        name_node = node.child_by_field_name("name")
    if name_node is not None:
        s, e = name_node.start_byte, name_node.end_byte
        if e - s <= 80:
            raw = data[s:e]
            if b"\n" not in raw:
                return f"{word} {raw.decode('utf-8', 'replace')}"
        name = _text(name_node, data)
    else:
        name = _name_of(node, data)
    return f"{word} {name}" if name else word


# How a label is made: from the ``name`` field, or one of the special cases.
_PLAIN, _INIT, _IMPL, _GO_METHOD, _SWIFT = range(5)
# language -> kind id -> (the word a label starts with, how the rest is found); filled as kinds
# are seen. Entry -1 holds the language's ``name`` field id.
_LABELS: dict[str, dict[int, tuple[str, int]]] = {}


def _label_entry(node: Node, data: bytes, language: str) -> tuple[str, int]:
    kind = node.type
    word = _word(node, kind, data, language)
    if kind == "impl_item":
        return word, _IMPL
    if word == "init":
        return word, _INIT
    if kind == "method_declaration" and language == "go":
        return word, _GO_METHOD
    if word == "\0swift":
        return word, _SWIFT
    return word, _PLAIN


def _word(node: Node, kind: str, data: bytes, language: str) -> str:
    if kind in (
        "variable_declarator",
        "assignment_expression",
        "public_field_definition",
        "field_definition",
    ):
        return _FUNCTION_WORD.get(language, "function")
    if kind in FUNCTION_KINDS:
        if kind == "init_declaration":
            return "init"
        if "constructor" in kind:
            return "constructor"
        if kind.startswith("method") or kind == "singleton_method":
            return _FUNCTION_WORD.get(language, "method")
        if kind == "macro_definition":
            return "macro"
        if kind.startswith("property"):
            return "property"
        return _FUNCTION_WORD.get(language, "function")
    if node.child_by_field_name("declaration_kind") is not None:
        return "\0swift"
    return _container_word(kind)


def _container_word(kind: str) -> str:
    for fragment, word in _CONTAINER_WORDS:
        if fragment in kind:
            return word
    return kind


def _name_of(node: Node, data: bytes) -> str:
    """The name of a definition without a ``name`` field."""
    kind = node.type
    if kind == "assignment_expression":
        left = node.child_by_field_name("left")
        return _text(left, data) if left is not None else ""
    # C/C++ functions: follow the declarator chain down to the identifier.
    decl = node.child_by_field_name("declarator")
    for _ in range(8):
        if decl is None:
            break
        if decl.type in _NAME_KINDS:
            return _text(decl, data)
        decl = decl.child_by_field_name("declarator") or decl.child_by_field_name("name")
    if kind == "type_declaration":  # Go: type_spec holds the name
        for child in node.named_children:
            inner = child.child_by_field_name("name")
            if inner is not None:
                return _text(inner, data)
    if kind in ("type_definition",):
        decl = node.child_by_field_name("declarator")
        if decl is not None:
            return _text(decl, data)
    for child in node.named_children:
        if child.type in _NAME_KINDS:
            return _text(child, data)
    return ""


def _text(node: Node, data: bytes, limit: int = 80) -> str:
    raw = data[node.start_byte : min(node.end_byte, node.start_byte + limit * 4)]
    text = " ".join(raw.decode("utf-8", "replace").split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
