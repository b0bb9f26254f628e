#!/usr/bin/env bash
# Tunehub from the shell: create a study, ask a trial, report, tell, read the best.
# Usage: TUNEHUB_URL=http://127.0.0.1:8000 examples/curl.sh
set -euo pipefail
URL="${TUNEHUB_URL:-http://127.0.0.1:8000}/api/v1"
JSON=(-sS --fail-with-body -H "Content-Type: application/json")

# The first "id" in an answer (no jq needed).
first_id() { grep -o '"id":[0-9]*' | head -n 1 | cut -d: -f2; }

study=$(curl "${JSON[@]}" -X POST "$URL/studies" -d '{
  "name": "curl-example",
  "space": {"C":      {"type": "float", "low": 0.001, "high": 1000, "log": true},
            "kernel": {"type": "categorical", "choices": ["rbf", "linear"]},
            "gamma":  {"type": "float", "low": 1e-4, "high": 1, "log": true,
                       "condition": {"kernel": ["rbf"]}}},
  "objectives": [{"name": "loss", "direction": "minimize"}],
  "policy": {"name": "random", "options": {}},
  "seed": 0}')
study_id=$(echo "$study" | first_id)
echo "study $study_id"

for step in 1 2 3; do
  # A request id makes the ask safe to retry: repeating it returns the same trial.
  trial=$(curl "${JSON[@]}" -X POST "$URL/studies/$study_id/ask" \
    -d "{\"count\": 1, \"worker\": \"curl\", \"request_id\": \"curl-$$-$step\"}")
  trial_id=$(echo "$trial" | first_id)
  echo "trial $trial_id: $trial"
  curl "${JSON[@]}" -X POST "$URL/trials/$trial_id/reports" \
    -d "{\"step\": 0, \"values\": {\"loss\": 0.$((9 - step))}}"
  echo
  curl "${JSON[@]}" -X POST "$URL/trials/$trial_id/tell" \
    -d "{\"values\": {\"loss\": 0.$((5 - step))}, \"metrics\": {\"fit_seconds\": 1.5}}" > /dev/null
done

echo "best:"
curl "${JSON[@]}" "$URL/studies/$study_id/best"
echo
