"""The HTTP contract of docs/design.md as OpenAPI: request bodies, answers and their schemas, one module
per router (`ingest`, `kserve`, `labels`, `status`, `alerts`, `audit`) and `common` for what they share.

The routes read `Request` themselves (bounded reading, NDJSON, protobuf, CloudEvents), so FastAPI
cannot infer what they take or answer; each route declares it from its router's module here, through
`openapi_extra={"requestBody": ...}` and `responses=...`. The schemas are JSON Schema as plain dicts,
spliced into the served `/openapi.json` unchanged; that document is the contract that
`tests/api/test_fuzz_api.py` fuzzes, response schemas included: keep them exact.

    from driftwarden.api.schemas.labels import LABELS_ANSWERS, LABELS_BODY

    @router.post("/v1/labels", openapi_extra={"requestBody": LABELS_BODY}, responses=LABELS_ANSWERS)
"""
