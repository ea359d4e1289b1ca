"""The policy timeline keeps Border Patrol's rules in one place: the day records its kernel reads."""

import numpy as np

from model import BorderModel
from model.config.timeline import BorderRules


def test_border_rules_fields_are_the_timelines_arrays():
    timeline = BorderModel("historical", scale=1000).timeline  # built, not run
    rules = timeline.border_rules
    assert rules.dtype == BorderRules and len(rules) == timeline.n_days
    for name in BorderRules.names:
        attribute = getattr(timeline, name)
        # the same memory: what `_fill` wrote is what the kernel reads, no copy to go stale
        assert np.shares_memory(attribute, rules), name
        assert attribute.shape == (timeline.n_days, *BorderRules[name].shape), name
        if BorderRules[name].base == np.uint8:  # stored as uint8 for numba, seen as bool
            assert attribute.dtype == np.bool_, name
            assert np.array_equal(attribute, rules[name].astype(bool)), name
    # the historical policies reached the records
    assert rules["title42"].any() and not rules["title42"].all()
    assert rules["mpp"].any() and rules["port_return"].any()
    assert (rules["title42_flight"] == -1).any() and (rules["family_acceptance"] == 1.0).any()
