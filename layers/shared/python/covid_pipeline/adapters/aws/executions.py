"""Step Functions StartExecution for the trigger: an existing name is a success of an earlier delivery."""

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
