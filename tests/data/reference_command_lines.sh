#!/usr/bin/env bash
# Command lines written for the reference implementation, one per flag it spells differently
# from gait's own names, with the exit code the reference gives. tests/test_reference_cli.py runs
# this in an empty directory; every line must give that code here too.
set -u
failures=0
expect() {  # expect CODE command...
  local want=$1
  shift
  "$@" >/dev/null 2>"$TMPDIR_STDERR"
  local got=$?
  if [ "$got" != "$want" ]; then
    echo "MISMATCH want=$want got=$got: $*" >&2
    sed 's/^/  stderr: /' "$TMPDIR_STDERR" >&2
    failures=$((failures + 1))
  fi
  if grep -q Traceback "$TMPDIR_STDERR"; then
    echo "TRACEBACK: $*" >&2
    failures=$((failures + 1))
  fi
}
TMPDIR_STDERR=$(mktemp)

cat > policy.yaml <<'YAML'
schema_id: gait.gate.policy
schema_version: 1.0.0
default_verdict: allow
fail_closed:
  enabled: true
  risk_classes: [high]
  required_fields: [targets]
rules:
  - name: deletes-need-approval
    priority: 10
    effect: require_approval
    match:
      tool_names: [tool.delete]
YAML
cat > read.json <<'JSON'
{"schema_id":"gait.gate.intent_request","schema_version":"1.0.0","created_at":"2026-03-01T12:00:00Z","producer_version":"x","tool_name":"tool.read","args":{"path":"/w/a"},"targets":[{"kind":"path","value":"/w/a","operation":"read"}],"context":{"identity":"a","workspace":"/w","risk_class":"low"}}
JSON
# FORMATS 5.1: no targets, null targets, no args: evaluated, not refused.
cat > no_targets.json <<'JSON'
{"schema_id":"gait.gate.intent_request","schema_version":"1.0.0","created_at":"2026-03-01T12:00:00Z","producer_version":"x","tool_name":"tool.write","args":{"path":"/w/a"},"context":{"identity":"a","workspace":"/w","risk_class":"high"}}
JSON
cat > null_targets.json <<'JSON'
{"schema_id":"gait.gate.intent_request","schema_version":"1.0.0","created_at":"2026-03-01T12:00:00Z","producer_version":"x","tool_name":"tool.write","args":{"path":"/w/a"},"targets":null,"context":{"identity":"a","workspace":"/w","risk_class":"high"}}
JSON
cat > no_args.json <<'JSON'
{"schema_id":"gait.gate.intent_request","schema_version":"1.0.0","created_at":"2026-03-01T12:00:00Z","producer_version":"x","tool_name":"tool.read","targets":[{"kind":"path","value":"/w/a","operation":"read"}],"context":{"identity":"a","workspace":"/w","risk_class":"low"}}
JSON
cat > run_input.json <<'JSON'
{"run":{"run_id":"run_signed","created_at":"2026-03-01T12:00:00Z","timeline":[]},"intents":[{"intent_id":"intent_1","tool_name":"tool.search","args":{"q":"x"}}],"results":[{"intent_id":"intent_1","status":"ok","result":{"n":1}}],"refs":{"receipts":[]}}
JSON

expect 0 gait demo
expect 0 gait version --json
# keys init|rotate --out-dir DIR --prefix P, and a bare keys init into gait-out/keys
expect 0 gait keys init --out-dir ./refkeys --prefix ref
expect 0 gait keys rotate --out-dir ./refkeys --prefix ref
expect 0 gait keys init
expect 0 test -s gait-out/keys/gait_private.key -a -s gait-out/keys/gait_public.key
# verify --private-key (the public half is derived)
expect 0 gait run record --input run_input.json --key-mode prod --private-key ./refkeys/ref_private.key
expect 0 gait verify run_signed --private-key ./refkeys/ref_private.key
expect 0 gait verify run_signed --private-key ./refkeys/ref_private.key --require-signature
# run diff --output, run inspect --from
expect 0 gait run diff run_demo run_demo --output diff.json
expect 0 test -s diff.json
expect 2 gait run diff run_demo run_signed --output diff2.json
expect 0 gait run inspect --from run_demo
# run replay --unsafe-real-tools-env VAR (unset: refused, exit 8)
expect 8 gait run replay run_demo --real-tools --unsafe-real-tools --allow-tools tool.search --unsafe-real-tools-env REF_ALLOW_REAL
# policy init: default file gait.policy.yaml, the baseline-mediumrisk template
expect 0 gait policy init baseline-mediumrisk
expect 0 test -s gait.policy.yaml
expect 6 gait policy init baseline-mediumrisk
expect 0 gait policy init baseline-lowrisk --out low.yaml
# policy fmt prints unless --write
expect 0 gait policy fmt gait.policy.yaml
expect 0 gait policy fmt gait.policy.yaml --write
expect 0 gait policy validate gait.policy.yaml
# trace verify --path
expect 0 gait gate eval --policy policy.yaml --intent read.json --trace-out trace.json
expect 0 gait trace verify --path trace.json
# migrate --input/--target (a run id)
expect 0 gait migrate --input run_demo --target v1
expect 6 gait migrate --input run_demo --target v9
# intents without targets (or null), without args
expect 3 gait policy test policy.yaml no_targets.json
expect 3 gait policy test policy.yaml null_targets.json
expect 0 gait policy test policy.yaml no_args.json
expect 3 gait gate eval --policy policy.yaml --intent no_targets.json

rm -f "$TMPDIR_STDERR"
echo "mismatches=$failures"
exit $((failures > 0 ? 1 : 0))
