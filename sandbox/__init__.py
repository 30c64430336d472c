"""The sandbox: a local stand-in for AWS (moto), PagerDuty and Slack.

Run it with ``python -m sandbox``; start it from Python with
``sandbox.runner.start_sandbox``. Nothing under ``plugins/`` or ``dags/`` imports this package:
the project talks to the sandbox only through Airflow connections, exactly as it would talk to
the real services. See ``sandbox/README.md``.

This module stays import-light: the runner (used by tests and the demo) imports it without
pulling in moto or Flask.
"""

ACCOUNT_ID = "123456789012"
DEFAULT_REGION = "us-east-1"

# Credentials of the stand-ins. They are fake by design: the sandbox accepts nothing else.
AWS_ACCESS_KEY = "testing"
AWS_SECRET_KEY = "testing"
PAGERDUTY_TOKEN = "sandbox-pagerduty-token"
# PagerDuty integration (routing) keys are 32 characters.
PAGERDUTY_ROUTING_KEY = "R0SANDBOXR0UT1NGKEY0000000000001"
SLACK_TOKEN = "xoxb-sandbox"
STATUSPAGE_KEY = "sandbox-statuspage-key"
# A key whose user may read the page but not write to it: writes answer 403.
STATUSPAGE_READONLY_KEY = "sandbox-statuspage-readonly-key"

READY_FILE = "ready.json"
LOG_FILE = "sandbox.log"
PAGERDUTY_EVENTS_FILE = "pagerduty-events.jsonl"
SLACK_MESSAGES_FILE = "slack-messages.jsonl"
