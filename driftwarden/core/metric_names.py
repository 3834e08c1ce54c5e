"""Every metric name driftwarden exports, once: the exporters, the dashboards, the rule files and the
UI import them from here (the bottom layer, so every layer can). dcgm-exporter's names are in
`driftwarden.core.gpu`."""

from __future__ import annotations

PREFIX = "driftwarden_"

FEATURE_DRIFT_SCORE = "driftwarden_feature_drift_score"
FEATURE_DRIFT_PVALUE = "driftwarden_feature_drift_pvalue"
FEATURE_DRIFTED = "driftwarden_feature_drifted"
FEATURE_DRIFTED_STABLE = "driftwarden_feature_drifted_stable"  # after `for` evaluations, with hysteresis
FEATURE_DRIFT_REASON = "driftwarden_feature_drift_reason"  # gauge 1: model, feature, test — while that test fires
PREDICTION_DRIFT_SCORE = "driftwarden_prediction_drift_score"  # the "prediction" column's scores: model, method
FEATURE_MISSING_RATIO = "driftwarden_feature_missing_ratio"
FEATURE_BIN_VALUES = "driftwarden_feature_bin_values"  # not _count: promtool reserves it for histograms
MODEL_DRIFT_SHARE = "driftwarden_model_drift_share"
MODEL_DRIFTED = "driftwarden_model_drifted"
MODEL_DRIFTED_STABLE = "driftwarden_model_drifted_stable"
EMBEDDING_DRIFT_SCORE = "driftwarden_embedding_drift_score"  # gauge: model, embedding, method (mmd, pcs, classifier)
EMBEDDING_DRIFTED = "driftwarden_embedding_drifted"  # gauge 1/0: model, embedding, method
WINDOW_ROWS = "driftwarden_window_rows"
WINDOW_BYTES = "driftwarden_window_bytes"  # gauge: model — the current window's buffer
LAST_EVALUATION = "driftwarden_last_evaluation_timestamp_seconds"
EVALUATION_DURATION = "driftwarden_evaluation_duration_seconds"
EVALUATION_CYCLE = "driftwarden_evaluation_cycle_seconds"  # gauge: clock (wall, cpu) — the last cycle over every model
EVALUATION_FAILURES = "driftwarden_evaluation_failures"  # counter: driftwarden_evaluation_failures_total{model,stage}
RECORDS = "driftwarden_records"  # counter: exposed as driftwarden_records_total
RECORDS_REJECTED = "driftwarden_records_rejected"  # counter: driftwarden_records_rejected_total
# data-quality constraints (models.<m>.constraints): model, feature, constraint (core/constraints.py ConstraintKind)
CONSTRAINT_VIOLATIONS = "driftwarden_constraint_violations"  # counter (_total): violating values at ingest
CONSTRAINT_VIOLATING_SHARE = "driftwarden_constraint_violating_share"  # gauge: their share of the current window
RECORDS_SAMPLED_OUT = "driftwarden_records_sampled_out"  # counter (_total): model, source — left out by sample_rate
LABELS = "driftwarden_labels"  # counter (_total): model, outcome (matched, unmatched)
LABELS_PENDING = "driftwarden_labels_pending"  # gauge: model — sampled predictions waiting for a label
MODEL_QUALITY_BASELINE = "driftwarden_model_quality_baseline"  # gauge: the first full window of labels
MODEL_QUALITY = "driftwarden_model_quality"  # gauge: model, metric (accuracy, f1, mae, rmse) over the last window
# estimated quality (CBPE, DLE): model, metric (accuracy, precision, recall, f1, roc_auc; mae, rmse)
MODEL_QUALITY_ESTIMATED = "driftwarden_model_quality_estimated"
MODEL_QUALITY_ESTIMATED_LOWER = "driftwarden_model_quality_estimated_lower"  # the band: -3 sampling errors
MODEL_QUALITY_ESTIMATED_UPPER = "driftwarden_model_quality_estimated_upper"  # +3 sampling errors
MODEL_QUALITY_REFERENCE = "driftwarden_model_quality_reference"  # gauge: model, metric — realized on the reference
# segments (models.<m>.segments): model, segment ("country=BR")
SEGMENT_DRIFT_SHARE = "driftwarden_segment_drift_share"
SEGMENT_DRIFTED = "driftwarden_segment_drifted"  # gauge 0/1
SEGMENT_WINDOW_ROWS = "driftwarden_segment_window_rows"
SEGMENT_QUALITY_ESTIMATED = "driftwarden_segment_quality_estimated"  # gauge: model, segment, metric
# multivariate drift (drift.multivariate): model, method (pca, classifier)
MODEL_MULTIVARIATE_DRIFT_SCORE = "driftwarden_model_multivariate_drift_score"  # PCA error, classifier AUROC
MODEL_MULTIVARIATE_DRIFT_THRESHOLD = "driftwarden_model_multivariate_drift_threshold"  # calibrated per window size
MODEL_MULTIVARIATE_DRIFTED = "driftwarden_model_multivariate_drifted"  # gauge 0/1
MULTIVARIATE_SKIPPED = "driftwarden_multivariate_skipped"  # counter (_total): model, method, reason (budget, ...)
QUEUE_ROWS = "driftwarden_queue_rows"
QUEUE_CAPACITY_ROWS = "driftwarden_queue_capacity_rows"
REQUESTS_REJECTED = "driftwarden_requests_rejected"  # counter: whole requests refused before any record was read
CONNECTIONS_REFUSED = "driftwarden_connections_refused"  # counter (_total): reason — closed before the app saw it

# traces and SLOs
REQUEST_DURATION = "driftwarden_request_duration_seconds"  # histogram: service, model, operation, status
LLM_INPUT_TOKENS = "driftwarden_llm_input_tokens"  # counter (_total): service, model
LLM_OUTPUT_TOKENS = "driftwarden_llm_output_tokens"  # counter (_total): service, model
LLM_TIME_TO_FIRST_TOKEN = "driftwarden_llm_time_to_first_token_seconds"  # histogram: service, model
LLM_TIME_PER_OUTPUT_TOKEN = "driftwarden_llm_time_per_output_token_seconds"  # histogram: service, model
SPANS = "driftwarden_spans"  # counter (_total): outcome (observed, skipped, rejected)
OTLP_LOGS_IGNORED = "driftwarden_otlp_logs_ignored"  # counter (_total): reason (no_features, no_model)
OTLP_POINTS = "driftwarden_otlp_points"  # counter (_total): outcome (counted, ignored, rejected) — metric points
OTLP_POINTS_IGNORED = "driftwarden_otlp_points_ignored"  # counter (_total): reason — acknowledged, not counted
OTLP_STATE_EVICTED = "driftwarden_otlp_state_evicted"  # counter (_total): state (streams, services)
LABEL_VALUES_FOLDED = "driftwarden_label_values_folded"  # counter (_total): label
SERIES_OVERFLOW = "driftwarden_series_overflow"  # counter (_total): metric — folded into its all-"other" label set
SLO_BURN_RATE = "driftwarden_slo_burn_rate"  # gauge: slo, window
SLO_ERROR_BUDGET_REMAINING = "driftwarden_slo_error_budget_remaining"  # gauge: slo (ratio of the period's budget)
SLO_OBJECTIVE = "driftwarden_slo_objective"  # gauge: slo
SLO_EVENTS = "driftwarden_slo_events"  # counter (_total): slo, outcome (good, bad); persisted across restarts
SLO_WINDOWS = ("5m", "30m", "1h", "2h", "6h", "1d", "3d")

# anomalies (detectors/seasonal.py): signal, service, model, operation, gpu (a label a signal lacks is empty)
ANOMALY_SCORE = "driftwarden_anomaly_score"  # gauge: robust z-score against the same time of past seasons
ANOMALY_BASELINE = "driftwarden_anomaly_baseline"  # gauge: the median of the same slot in past seasons
ANOMALY_OBSERVED = "driftwarden_anomaly_observed"  # gauge: the value judged
ANOMALY_SERIES = "driftwarden_anomaly_series"  # gauge: series with a history (at most anomaly.max_series)
ANOMALY_SERIES_DROPPED = "driftwarden_anomaly_series_dropped"  # counter (_total): new series past max_series
ANOMALY_LABELS = ("signal", "service", "model", "operation", "gpu")

# alerting
ALERTS_FIRING = "driftwarden_alerts_firing"  # gauge: alertname, severity
WEBHOOK_DELIVERIES = "driftwarden_webhook_deliveries"  # counter (_total): receiver, outcome (ok, retry, failed)
OUTBOX_PENDING = "driftwarden_outbox_pending"  # gauge: receiver

# GPUs (beside dcgm-exporter's DCGM_FI_* names)
GPU_AVAILABLE = "driftwarden_gpu_available"  # gauge 0/1: NVML initialized and at least one GPU
GPU_LOST = "driftwarden_gpu_lost"  # gauge 0/1: gpu, UUID
MODEL_GPU_MEMORY = "driftwarden_model_gpu_memory_bytes"  # gauge: model
INFERENCE_ENERGY = "driftwarden_inference_energy_joules"  # gauge: model, window (1m, 1h) — J per request
INFERENCE_COST = "driftwarden_inference_cost_dollars"  # gauge: model, window (1m, 1h) — $ per request

# the state file and contained failures
STATE_WRITABLE = "driftwarden_state_writable"  # gauge: 1 while the state file takes writes
STATE_WRITE_FAILURES = "driftwarden_state_write_failures"  # counter (_total): operation
STATE_ROWS_SKIPPED = "driftwarden_state_rows_skipped"  # counter (_total): kind (reference, window, ...)
