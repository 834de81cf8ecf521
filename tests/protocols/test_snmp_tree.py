"""The SNMP agent's parts without a network: GETNEXT order over sparse rows, the error
table, the writable columns of the MIB (the wire tests are in test_snmp.py)."""

from __future__ import annotations

from pathlib import Path

from enerteg_tui.core.errors import EnertegError
from enerteg_tui.protocols.snmp.errors import ERROR_STATUS, error_status
from enerteg_tui.protocols.snmp.mib import load_mib

MIB = load_mib()


def test_every_core_error_has_an_snmp_status() -> None:
    import enerteg_tui.core.errors as errors
    classes = {v for v in vars(errors).values()
               if isinstance(v, type) and issubclass(v, EnertegError)}
    assert classes <= set(ERROR_STATUS)
    assert error_status(errors.DriverTimeout("t")) == "resourceUnavailable"


def test_every_writable_column_has_a_setter() -> None:
    from enerteg_tui.protocols.snmp import writes
    names = set(MIB.writable())
    assert names == {"etgBusDeviceId", "etgDevName", "etgDevLocation", "etgDevExtraInfo", "etgDevFeed",
                     "etgDevPowerUpMode", "etgDevFixedOutletDelay", "etgDevLocate",
                     "etgDevResetPeaks", "etgOutletName", "etgOutletUnlock", "etgOutletCommand",
                     "etgOutletSwitchOnDelay", "etgOutletCycleOffTime"}
    source = Path(writes.__file__).read_text()
    assert all(f'"{n}"' in source for n in names)


def test_getnext_order_across_sparse_rows_and_from_any_oid() -> None:
    from enerteg_tui.protocols.snmp.tree import ScalarNode, TableNode, Tree
    keys = [(1, 1), (1, 2), (3, 1)]
    rows = ["a", "b", "c"]
    cols = {2: lambda r: None if r == "b" else r, 5: lambda r: r.upper() if r == "c" else None}
    tree = Tree([ScalarNode((1, 1), lambda: "s"), TableNode((1, 2, 1), cols, lambda: (keys, rows)),
                 ScalarNode((1, 3), lambda: "z")])
    walk, oid = [], (1,)
    while (found := tree.next(oid)) is not None:
        walk.append(found[:2])
        oid = found[0]
    assert walk == [((1, 1, 0), "s"), ((1, 2, 1, 2, 1, 1), "a"), ((1, 2, 1, 2, 3, 1), "c"),
                    ((1, 2, 1, 5, 3, 1), "C"), ((1, 3, 0), "z")]
    assert tree.next((1, 2))[0] == (1, 2, 1, 2, 1, 1)                # the table's own OID
    assert tree.next((1, 2, 1, 2, 1, 1, 9))[0] == (1, 2, 1, 2, 3, 1)  # below an instance
    assert tree.next((1, 2, 1, 2, 1, 2))[0] == (1, 2, 1, 2, 3, 1)     # an absent value
    assert tree.next((1, 2, 1, 9))[0] == (1, 3, 0)                   # past the last column
    assert tree.next((1, 3, 0)) is None
    assert tree.get((1, 2, 1, 2, 1, 2)) == (True, None)               # noSuchInstance
    assert tree.get((1, 9, 0)) == (False, None)                       # noSuchObject


def test_walk_finds_what_repeated_getnext_finds() -> None:
    from enerteg_tui.protocols.snmp.tree import ScalarNode, TableNode, Tree
    keys = [(1, 1), (1, 2), (3, 1), (4, 7)]
    rows = ["a", "b", "c", "d"]
    cols = {2: lambda r: None if r == "b" else r, 5: lambda r: r.upper() if r in "cd" else None}
    tree = Tree([ScalarNode((1, 1), lambda: "s"), TableNode((1, 2, 1), cols, lambda: (keys, rows)),
                 ScalarNode((1, 3), lambda: "z"), ScalarNode((1, 4), lambda: None)])
    for start in [(1,), (1, 1, 0), (1, 2), (1, 2, 1, 2, 1, 1), (1, 2, 1, 2, 1, 2), (1, 2, 1, 3),
                  (1, 2, 1, 5, 3, 1, 0), (1, 3, 0), (2,)]:
        by_next, oid = [], start
        while (found := tree.next(oid)) is not None:
            by_next.append(found[:2])
            oid = found[0]
        walked = [(oid, value) for oid, value, split in tree.walk(start)]
        assert walked == by_next, start
        # the index starts where the column ends
        for oid, _value, split in tree.walk(start):
            assert oid[:split] in {(1, 1), (1, 3), (1, 2, 1, 2), (1, 2, 1, 5)}
