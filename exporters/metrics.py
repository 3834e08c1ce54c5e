"""Every metric name driftwarden exports, once. Dashboards and rules import them from here."""

from __future__ import annotations

PREFIX = "driftwarden_"

FEATURE_DRIFT_SCORE = "driftwarden_feature_drift_score"
FEATURE_DRIFT_PVALUE = "driftwarden_feature_drift_pvalue"
FEATURE_DRIFTED = "driftwarden_feature_drifted"
FEATURE_MISSING_RATIO = "driftwarden_feature_missing_ratio"
FEATURE_BIN_COUNT = "driftwarden_feature_bin_count"
MODEL_DRIFT_SHARE = "driftwarden_model_drift_share"
MODEL_DRIFTED = "driftwarden_model_drifted"
WINDOW_ROWS = "driftwarden_window_rows"
LAST_EVALUATION = "driftwarden_last_evaluation_timestamp_seconds"
EVALUATION_DURATION = "driftwarden_evaluation_duration_seconds"
RECORDS = "driftwarden_records"  # counter: exposed as driftwarden_records_total
RECORDS_REJECTED = "driftwarden_records_rejected"  # counter: driftwarden_records_rejected_total
QUEUE_ROWS = "driftwarden_queue_rows"
QUEUE_CAPACITY_ROWS = "driftwarden_queue_capacity_rows"
REQUESTS_REJECTED = "driftwarden_requests_rejected"  # counter: whole requests refused before any record was read
