from azbatch_operator.tenancy import account_allowed

ACCT = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Batch/batchAccounts/a"


def test_no_allowlist_allows_everything() -> None:
    assert account_allowed("team", ACCT, None)


def test_namespace_entries_and_wildcard_entries() -> None:
    allowlist = {"team": [ACCT.upper()], "*": ["/subscriptions/s/x"]}
    assert account_allowed("team", ACCT, allowlist)
    assert not account_allowed("other", ACCT, allowlist)
    assert account_allowed("other", "/subscriptions/s/x", allowlist)


def test_empty_allowlist_allows_nothing() -> None:
    assert not account_allowed("team", ACCT, {})
