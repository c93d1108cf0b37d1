"""What tree-sitter nodes mean for chunking, across the supported grammars.

One table for every language: node types differ enough between grammars that a union rarely
collides, and where it could (`module` is a Ruby module and a TypeScript `declare module`) both
readings are containers anyway.
"""

import re
from typing import Any

Node = Any  # tree_sitter.Node; kept loose because the grammar package ships no stubs for it

DEFINITIONS = {
    "function_definition": "def", "class_definition": "class",  # Python, C, C++, PHP
    "function_declaration": "function", "generator_function_declaration": "function",
    "class_declaration": "class", "abstract_class_declaration": "class", "class": "class",
    "method_definition": "method", "method_declaration": "method", "method": "def",
    "singleton_method": "def", "constructor_declaration": "constructor",
    "interface_declaration": "interface", "type_alias_declaration": "type", "enum_declaration": "enum",
    "function_item": "fn", "struct_item": "struct", "enum_item": "enum", "impl_item": "impl",
    "trait_item": "trait", "macro_definition": "macro", "union_item": "union", "type_item": "type",
    "mod_item": "mod", "type_declaration": "type", "record_declaration": "record",
    "annotation_type_declaration": "interface", "struct_specifier": "struct", "class_specifier": "class",
    "union_specifier": "union", "enum_specifier": "enum", "type_definition": "typedef",
    "trait_declaration": "trait", "struct_declaration": "struct", "delegate_declaration": "delegate",
    "property_declaration": "property", "module": "module", "internal_module": "namespace",
    "namespace_definition": "namespace", "namespace_declaration": "namespace",
    "object_declaration": "object", "protocol_declaration": "protocol", "function_signature": "function",
}  # fmt: skip
# Definitions whose members are split out when the whole does not fit in a chunk.
CLASS_LIKE = {
    "class", "module", "interface", "trait", "impl", "struct", "enum", "record", "namespace", "mod", "object",
    "protocol",
}  # fmt: skip
# Wrappers whose span (decorators, `export`, `template<…>`, `declare`) belongs to the definition inside.
WRAPPERS = {"decorated_definition", "export_statement", "template_declaration", "ambient_declaration",
            "expression_statement", "declaration", "lexical_declaration", "variable_declaration"}  # fmt: skip
IMPORTS = {
    "import_statement", "import_from_statement", "future_import_statement", "import_declaration",
    "package_clause", "package_declaration", "use_declaration", "extern_crate_declaration", "preproc_include",
    "using_directive", "namespace_use_declaration", "import_header", "package_header", "import",
}  # fmt: skip
# Preprocessor blocks: their children are top-level code (an include guard wraps a whole header).
TRANSPARENT = {"preproc_ifdef", "preproc_if", "preproc_else", "preproc_elif", "linkage_specification"}
COMMENTS = {"comment", "line_comment", "block_comment", "attribute_item", "inner_attribute_item"}
BODIES = {"block", "class_body", "declaration_list", "field_declaration_list", "body_statement",
          "interface_body", "enum_body", "enum_variant_list", "statement_block", "object_type"}  # fmt: skip
REQUIRE = re.compile(r"(?:require|require_relative|load|require_once|include|include_once)\b\s*[('\"]")
BODY_REQUIRED = {
    "struct_specifier",
    "class_specifier",
    "enum_specifier",
    "union_specifier",
    "namespace_definition",
}
FUNCTION_VALUES = {"arrow_function", "function", "function_expression", "generator_function", "class"}


def unwrap(node: Node) -> Node:
    """The definition inside a wrapper node, or the node itself."""
    for _ in range(4):
        if node.type not in WRAPPERS:
            return node
        inner = node.child_by_field_name("definition") or node.child_by_field_name("declaration")
        if inner is None and node.type in ("lexical_declaration", "variable_declaration"):
            inner = _function_value(node)
        if inner is None:
            inner = next((c for c in node.named_children if c.type in DEFINITIONS), None)
        if inner is None:
            return node
        node = inner
    return node


def _function_value(node: Node) -> Node | None:
    """`const f = () => …` defines f: the declarator stands for the definition."""
    for declarator in node.named_children:
        value = declarator.child_by_field_name("value")
        if value is not None and value.type in FUNCTION_VALUES:
            return declarator
    return None


def classify(node: Node) -> str:
    """One of: comment, import, transparent, definition, other."""
    kind = node.type
    if kind in COMMENTS:
        return "comment"
    if kind in IMPORTS or _is_require(node):
        return "import"
    if kind in TRANSPARENT:
        return "transparent"
    inner = unwrap(node)
    if inner.type in DEFINITIONS or inner.type == "variable_declarator":
        if inner.type in BODY_REQUIRED:  # `struct S;`, PHP's `namespace App;`: declarations only
            return "definition" if body_of(inner) is not None else "other"
        return "definition"
    return "other"


def _is_require(node: Node) -> bool:
    """Ruby `require 'x'`, PHP `require_once 'x';`, CommonJS `const x = require('x')`."""
    if node.type not in ("call", "expression_statement", "lexical_declaration", "variable_declaration"):
        return False
    head = node.text[:200].decode("utf-8", "replace").lstrip()
    if node.type in ("call", "expression_statement"):
        return REQUIRE.match(head) is not None
    return "require(" in head and "=>" not in head and "{" not in head.split("require(")[0]


def kind_of(node: Node) -> str:
    inner = unwrap(node)
    if inner.type == "variable_declarator":
        return "function"
    return DEFINITIONS.get(inner.type, str(inner.type))


def name_of(node: Node) -> str:
    """The symbol a definition introduces: `Foo`, `parse`, `impl Display for Foo`, `Foo::bar`."""
    inner = unwrap(node)
    if inner.type == "impl_item":
        parts = [inner.child_by_field_name(f) for f in ("trait", "type")]
        return " for ".join(_text(p) for p in parts if p is not None)
    receiver = inner.child_by_field_name("receiver") if inner.type == "method_declaration" else None
    if receiver is not None:  # Go: func (b *Big) M() is Big.M
        types = re.findall(r"[A-Za-z_]\w*", _text(receiver))
        name = inner.child_by_field_name("name")
        if types and name is not None:
            return f"{types[-1]}.{_text(name)}"[:80]
    if inner.type == "type_declaration":
        spec = next((c for c in inner.named_children if c.type in ("type_spec", "type_alias")), None)
        inner = spec if spec is not None else inner
    for _ in range(5):
        name = inner.child_by_field_name("name")
        if name is not None:
            return _text(name)[:80]
        declarator = inner.child_by_field_name("declarator")
        if declarator is None:
            break
        if declarator.type.endswith(
            ("identifier", "qualified_identifier", "operator_name", "destructor_name")
        ):
            return _text(declarator)[:80]
        inner = declarator
    return ""


def body_of(node: Node) -> Node | None:
    inner = unwrap(node)
    body = inner.child_by_field_name("body")
    if body is None:
        body = next((c for c in inner.named_children if c.type in BODIES), None)
    return body


def _text(node: Node) -> str:
    return " ".join(node.text.decode("utf-8", "replace").split())


def end_line(node: Node) -> int:
    """The 1-based last line a node covers (a node that ends at column 0 ends on the line before)."""
    row, column = node.end_point
    return int(row) if column == 0 and row > node.start_point[0] else int(row) + 1
