-- Corrected notes on three tables. Applied migrations cannot change (their checksums are recorded),
-- so the comments in their files stay as written; these catalog comments say what is true today
-- (psql's \d+ shows them):
--   0001's note on lifecycle_transitions names the Python module by a path it no longer has;
--   0001's note on quarantine cites a function "is_quarantined" that never existed: the rule lives
--     in alphaplus_quarantine_reason(text, integer), created by 0002;
--   0007's note on slot_assessments names the policy module by a path it no longer has.
COMMENT ON TABLE lifecycle_transitions IS
    'The lifecycle state machine as data: the (from_status, to_status) moves a version may make. '
    'alphaplus.core.lifecycle.TRANSITIONS holds the same table; a schema test keeps the two equal.';

COMMENT ON TABLE quarantine IS
    'Quarantined training data (by hash) and versions. A version may not serve when it, an ancestor '
    '(model_lineage.parent_version) or its training data is quarantined: '
    'alphaplus_quarantine_reason(model_name, version) says why, or returns NULL.';

COMMENT ON TABLE slot_assessments IS
    'Rollback assessment state per slot. history: the rollback policy''s SlotHistory.to_dict(); '
    'revision: compare-and-set counter; last_window_end: newest live window already consumed.';
