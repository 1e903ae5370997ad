"""Step 3 of admission on any record: ``check_accounts`` refuses exactly the records
in which some account ``named_accounts`` gives is not the key's (or not a string),
naming the first such member, whatever shape the record's members have: its one-pass
check of the common case is only a shortcut to the same answer."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from recorder.provenance.admission import check_accounts, named_accounts
from recorder.provenance.keys import Producer, Rejected

MINE, OTHER = "111122223333", "444455556666"
PRODUCER = Producer("p", frozenset({MINE}))

account = st.sampled_from([MINE, OTHER, None, 7, "", ["x"]])
entry = st.one_of(
    st.fixed_dictionaries({"type": st.just("AWS::S3::Object")}, optional={"accountId": account}),
    st.sampled_from(["text", 3, None]),
)


@st.composite
def records(draw: st.DrawFn) -> dict[str, Any]:
    r: dict[str, Any] = {}
    if draw(st.booleans()):
        r["recipientAccountId"] = draw(account)
    identity = draw(
        st.one_of(
            st.none(),
            st.fixed_dictionaries({}, optional={"accountId": account}),
            st.sampled_from(["root", 5]),
        )
    )
    if identity is not None or draw(st.booleans()):
        r["userIdentity"] = identity
    if draw(st.booleans()):
        r["resources"] = draw(st.lists(entry, max_size=3) | st.sampled_from(["x", None, {}]))
    return r


def reference(record: dict[str, Any]) -> str | None:
    for member, value in named_accounts(record):
        if value is None:
            continue
        if not isinstance(value, str) or not PRODUCER.allows(value):
            return member
    return None


@settings(max_examples=500, deadline=None)
@given(records())
def test_refused_exactly_when_an_account_named_is_not_the_keys(record: dict[str, Any]) -> None:
    refused = reference(record)
    try:
        check_accounts(record, PRODUCER, "key-1", None)
    except Rejected as exc:
        assert exc.kind == "account_not_allowed"
        assert refused is not None and f"({refused})" in str(exc)
    else:
        assert refused is None
