"""Step Functions StartExecution for the trigger: an existing name is an earlier delivery (its status tells whether
it succeeded, runs, or ended without success and may be started again under a new name)."""

from __future__ import annotations

import json
from typing import Any

import boto3
from botocore.exceptions import ClientError

from covid_pipeline.adapters.aws.object_store import RETRY_CONFIG, error_code
from covid_pipeline.ports import ALREADY_EXISTS, STARTED


class StepFunctionsExecutions:
    def __init__(self, state_machine_arn: str, client: Any = None) -> None:
        self.state_machine_arn = state_machine_arn
        self._client = client

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = boto3.client("stepfunctions", config=RETRY_CONFIG)
        return self._client

    def start(self, name: str, execution_input: dict[str, Any]) -> str:
        try:
            self.client.start_execution(
                stateMachineArn=self.state_machine_arn, name=name, input=json.dumps(execution_input)
            )
        except ClientError as exc:
            if error_code(exc) == "ExecutionAlreadyExists":
                return ALREADY_EXISTS
            raise
        return STARTED

    def status(self, name: str) -> str:
        """The status of this state machine's execution ``name`` (DescribeExecution)."""
        # Execution ARNs are the state machine's ARN with ":execution:" and the name appended.
        arn = self.state_machine_arn.replace(":stateMachine:", ":execution:", 1) + f":{name}"
        return str(self.client.describe_execution(executionArn=arn)["status"])
