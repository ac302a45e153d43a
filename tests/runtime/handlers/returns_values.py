import collections
import decimal

Point = collections.namedtuple("Point", "x y")


def none(event, context):
    return None


def raw_bytes(event, context):
    return b"\x00\x01raw bytes \xff"


def decimals(event, context):
    return {
        "price": decimal.Decimal("19.99"),
        "big": decimal.Decimal("1E+3"),
        "n": [decimal.Decimal("-0.5")],
    }


def unicode(event, context):
    return {"greeting": "héllo wörld ☃ 𝄞 \u2028", "emoji": "😀"}


def scalars(event, context):
    return [1, -2, 3.5, 1e16, 2**70, True, False, None, "", 'a"b\\c\n\t\x01']


def named_tuple(event, context):
    return {
        "point": Point(1, 2),
        "tuple": (1, "two"),
        "keys": {1: "int", 2.5: "float", None: "none", False: "bool"},
    }


def a_set(event, context):
    return {1, 2}


def nan(event, context):
    return {"value": float("nan")}


def string(event, context):
    return "just a string"
