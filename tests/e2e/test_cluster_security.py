"""cluster.yaml: SSH only from a CIDR the user sets, least-privilege worker profile (documented).

Ray 2.60's launcher opens SSH to the whole internet in any security group it creates itself
(``autoscaler/_private/aws/config.py::_create_default_ssh_inbound_rules``, added whatever
``provider.security_group.IpPermissions`` says); it creates none when every node type names its
``SecurityGroupIds``. So: every node type must name the user's group, workers must not get the
head's EC2 + S3 profile, and the docs must give the exact worker policy (the committed
``sweeper-worker-policy.json``, which docs/how-to/cluster-security.md includes) and SSH rule.
(Schema and launcher validity: tests/test_distributed.py -k cluster_yaml.)
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
POLICY = REPO / "sweeper-worker-policy.json"
SECURITY_PAGE = REPO / "docs" / "how-to" / "cluster-security.md"


def _cfg() -> dict:
    return yaml.safe_load((REPO / "cluster.yaml").read_text())


def test_every_node_type_uses_the_users_security_group():
    cfg = _cfg()
    assert "security_group" not in cfg["provider"]  # a launcher-made group would open SSH to the world
    for name, t in cfg["available_node_types"].items():
        sgs = t["node_config"].get("SecurityGroupIds")
        assert sgs == ["sg-CHANGE-ME"], (name, sgs)


def test_the_launcher_would_create_no_security_group():
    """Ray's own configuration step returns the config untouched when every node type names a group."""
    pytest.importorskip("boto3", reason="Ray's AWS launcher config module imports boto3 (pip install -e '.[dev]')")
    from ray.autoscaler._private.aws import config as aws_config

    cfg = _cfg()
    assert aws_config._configure_security_group(cfg) is cfg  # returned before any AWS call


def test_workers_get_the_s3_only_profile():
    cfg = _cfg()
    head = cfg["head_node_type"]
    for name, t in cfg["available_node_types"].items():
        if name != head:
            assert t["node_config"]["IamInstanceProfile"] == {"Name": "sweeper-worker"}, name


def test_the_worker_policy_is_least_privilege():
    policy = json.loads(POLICY.read_text())
    actions = {a for s in policy["Statement"] for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])}
    assert actions == {"s3:ListBucket", "s3:GetBucketLocation", "s3:GetObject", "s3:PutObject", "s3:DeleteObject",
                       "s3:AbortMultipartUpload"}
    for s in policy["Statement"]:
        assert s["Effect"] == "Allow" and "*" not in s["Resource"].split(":::")[0]
        assert s["Resource"].startswith("arn:aws:s3:::"), s["Resource"]
        assert s["Resource"] not in ("arn:aws:s3:::*", "*")


def test_the_docs_give_that_policy_and_the_ssh_rule():
    text = SECURITY_PAGE.read_text()
    assert '--8<-- "sweeper-worker-policy.json"' in text  # the page shows the committed file itself
    assert 'sed "s/BUCKET/$BUCKET/g" sweeper-worker-policy.json' in text
    assert "--cidr \"$MY_CIDR\"" in text and "authorize-security-group-ingress" in text
