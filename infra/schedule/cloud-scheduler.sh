#!/usr/bin/env bash
# Creates (or updates) the Cloud Scheduler job that retrains one run on a schedule by calling
# POST <service>/runs/<RUN_ID>/retrain. The job as stored is shown in cloud-scheduler.yaml.
#
#   PROJECT=my-project REGION=us-central1 RUN_ID=my-run infra/schedule/cloud-scheduler.sh
#
# Optional: SCHEDULE (cron, UTC; default "0 3 * * *"), SERVICE (default charrnn),
# SERVICE_URL (default: looked up from the Cloud Run service), JOB (default charrnn-retrain-<RUN_ID>),
# TOKEN_SECRET (Secret Manager secret holding CHARRNN_API_TOKEN; default charrnn-api-token),
# BODY (the tick's budget as JSON, e.g. '{"maxSeconds":1200}'; default '{}' = the server's default
# slice, CHARRNN_DEFAULT_SLICE_SECONDS). Keep maxSeconds well under the 1800 s attempt deadline.
#
# Authorization: the service checks `Authorization: Bearer <CHARRNN_API_TOKEN>` itself (deployed with
# --allow-unauthenticated), so the header carries the API token, read from Secret Manager now:
# re-run this script after rotating the token.
# Idempotency: Cloud Scheduler cannot template a header with the scheduled time, but it sends
# X-CloudScheduler-ScheduleTime (RFC 3339, UTC) on every attempt of one scheduled run, and the
# retrain route takes that as the Idempotency-Key when none is given (see infra/README.md).
set -euo pipefail

: "${PROJECT:?set PROJECT to the Google Cloud project id}"
: "${REGION:?set REGION to the Cloud Run region, e.g. us-central1}"
: "${RUN_ID:?set RUN_ID to the run to retrain}"
SCHEDULE="${SCHEDULE:-0 3 * * *}"
SERVICE="${SERVICE:-charrnn}"
JOB="${JOB:-charrnn-retrain-${RUN_ID}}"
TOKEN_SECRET="${TOKEN_SECRET:-charrnn-api-token}"
BODY="${BODY:-"{}"}"

if [[ ! "$RUN_ID" =~ ^[a-z0-9_-][a-z0-9._-]{0,63}$ ]]; then
  echo "RUN_ID \"$RUN_ID\" is not a run id (lowercase letters, digits, '.', '_', '-'; at most 64)" >&2
  exit 2
fi

SERVICE_URL="${SERVICE_URL:-$(gcloud run services describe "$SERVICE" --project "$PROJECT" --region "$REGION" --format='value(status.url)')}"
TOKEN="$(gcloud secrets versions access latest --secret "$TOKEN_SECRET" --project "$PROJECT")"
if [[ "$TOKEN" == *,* ]]; then
  echo "the API token contains a comma, which gcloud --headers cannot carry; choose another token" >&2
  exit 2
fi

URI="${SERVICE_URL%/}/runs/${RUN_ID}/retrain"
HEADERS="Authorization=Bearer ${TOKEN},Content-Type=application/json"
COMMON=(
  --project "$PROJECT" --location "$REGION"
  --schedule "$SCHEDULE" --time-zone "Etc/UTC"
  --uri "$URI" --http-method POST
  --message-body "$BODY"
  # Cloud Scheduler's longest HTTP attempt; a slice still running then keeps going server-side and
  # the retry (same schedule time) is answered idempotently.
  --attempt-deadline 1800s
  --max-retry-attempts 3 --min-backoff 60s --max-backoff 600s
)

if gcloud scheduler jobs describe "$JOB" --project "$PROJECT" --location "$REGION" >/dev/null 2>&1; then
  gcloud scheduler jobs update http "$JOB" "${COMMON[@]}" --update-headers "$HEADERS"
else
  gcloud scheduler jobs create http "$JOB" "${COMMON[@]}" --headers "$HEADERS" \
    --description "charrnn: retrain run ${RUN_ID}"
fi
echo "scheduled: POST ${URI} at '${SCHEDULE}' (UTC) as job ${JOB}"
