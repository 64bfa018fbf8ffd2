"""How traits sent by identify and group calls merge into what is stored.

The rules are Segment's: a trait sent replaces the stored value (a trait sent as null
becomes null), a trait not sent keeps its value, and reserved traits are
case-insensitive, so ``created_at``, ``CreatedAt`` and ``createdAt`` are one trait,
stored under Segment's camel-case name.
"""

USER_RESERVED = (
    "address", "age", "avatar", "birthday", "company", "createdAt", "description", "email",
    "firstName", "gender", "id", "lastName", "name", "phone", "title", "username", "website",
)
GROUP_RESERVED = (
    "address", "avatar", "createdAt", "description", "email", "employees", "id", "industry",
    "name", "phone", "plan", "status", "website",
)


def _fold(key: str) -> str:
    return key.replace("_", "").replace("-", "").replace(" ", "").lower()


_CANONICAL = {
    reserved: {_fold(name): name for name in reserved} for reserved in (USER_RESERVED, GROUP_RESERVED)
}


def canonical_key(key: str, reserved) -> str:
    """The stored name of a trait: Segment's spelling for a reserved trait, else as sent."""
    return _CANONICAL[reserved].get(_fold(key), key)


def pop_group_type(traits: dict):
    """Take the group type out of a group call's traits, however it is spelled
    (``groupType``, ``group_type``, ``GroupType``…): it says what the group is, it is
    not a property of it. Returns the first non-empty one sent, or None."""
    found = None
    for key in [k for k in traits if isinstance(k, str) and _fold(k) == "grouptype"]:
        value = traits.pop(key)
        if found is None and value not in (None, ""):
            found = value
    return found


def merge(stored: dict, sent: dict, reserved) -> dict:
    """The traits after a call that sent ``sent`` to an entity holding ``stored``."""
    merged = dict(stored)
    for key, value in sent.items():
        merged[canonical_key(key, reserved)] = value
    return merged


def normalize(sent: dict, reserved) -> dict:
    """``sent`` with reserved traits under their canonical names."""
    return merge({}, sent, reserved)
