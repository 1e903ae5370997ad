"""The chart rendered by the real Helm binary: defaults, then non-default values."""

from __future__ import annotations

import base64
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.unit.helm.conftest import (
    API_CREDENTIALS,
    CHART,
    NAMESPACE,
    PRODUCERS,
    RELEASE,
    STAGES,
    Helm,
    Rendered,
)

FULL = f"{RELEASE}-recorder"
SECRETS_DIR = "/etc/recorder/secrets"
TLS_DIR = "/etc/recorder/kafka-tls"


def secret_ref(env: dict[str, Any]) -> tuple[str, str]:
    ref = env["valueFrom"]["secretKeyRef"]
    return ref["name"], ref["key"]


def volumes(rendered: Rendered, stage: str) -> dict[str, dict[str, Any]]:
    spec = rendered.deployment(stage)["spec"]["template"]["spec"]
    return {v["name"]: v for v in spec["volumes"]}


def mounts(rendered: Rendered, stage: str) -> dict[str, dict[str, Any]]:
    return {m["name"]: m for m in rendered.container(stage)["volumeMounts"]}


# --- lint --------------------------------------------------------------------------------


def test_lint_strict_with_default_values(helm: Helm) -> None:
    proc = helm.run("lint", "--strict", str(CHART))
    assert "1 chart(s) linted, 0 chart(s) failed" in proc.stdout


def test_lint_strict_with_every_feature_on(helm: Helm) -> None:
    values = helm.values_file(FULL_VALUES)
    proc = helm.run("lint", "--strict", str(CHART), "-f", str(values))
    assert "0 chart(s) failed" in proc.stdout


# --- default values ----------------------------------------------------------------------


def test_default_render_has_the_expected_objects(default: Rendered) -> None:
    assert default.kinds() == {
        "ServiceAccount": 1,
        "ConfigMap": 1,
        "Secret": 1,  # the API credentials every install sets (conftest.API_CREDENTIALS)
        "Deployment": 6,
        "Service": 7,
        "PodDisruptionBudget": 6,
    }
    assert sorted(default.names("Service")) == sorted(
        [f"Service/{FULL}-api"] + [f"Service/{FULL}-{s}-metrics" for s in STAGES]
    )
    for doc in default.docs:
        assert doc["metadata"]["namespace"] == NAMESPACE


@pytest.mark.parametrize("stage", STAGES)
def test_each_stage_runs_its_own_command_from_one_image(default: Rendered, stage: str) -> None:
    container = default.container(stage)
    assert container["name"] == stage
    assert container["image"] == "recorder:0.1.0"
    assert container["imagePullPolicy"] == "IfNotPresent"
    # Without --metrics-host the endpoint would bind 127.0.0.1, out of the kubelet's reach.
    assert container["args"] == ["run", stage, "--metrics-host", "0.0.0.0"]
    assert "command" not in container  # the image's ENTRYPOINT is `recorder`


def test_replica_counts(default: Rendered) -> None:
    replicas = {s: default.deployment(s)["spec"]["replicas"] for s in STAGES}
    assert replicas == {
        "api": 2,
        "router": 2,
        "writer": 2,
        "digester": 1,
        "insights": 1,
        "aggregation": 1,
    }


@pytest.mark.parametrize("stage", STAGES)
def test_probes_hit_healthz_and_readyz_on_the_metrics_port(default: Rendered, stage: str) -> None:
    container = default.container(stage)
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports["metrics"] == 9464
    liveness, readiness = container["livenessProbe"], container["readinessProbe"]
    assert liveness["httpGet"] == {"path": "/healthz", "port": "metrics"}
    assert readiness["httpGet"] == {"path": "/readyz", "port": "metrics"}
    assert liveness["failureThreshold"] * liveness["periodSeconds"] == 60
    assert readiness["periodSeconds"] == 5


@pytest.mark.parametrize("stage", STAGES)
def test_pods_run_non_root_read_only_without_capabilities(default: Rendered, stage: str) -> None:
    pod = default.deployment(stage)["spec"]["template"]["spec"]
    assert pod["securityContext"] == {
        "runAsNonRoot": True,
        "runAsUser": 10001,
        "runAsGroup": 10001,
        "fsGroup": 10001,
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    assert pod["automountServiceAccountToken"] is False
    assert pod["serviceAccountName"] == FULL
    sc = default.container(stage)["securityContext"]
    assert sc["runAsNonRoot"] is True
    assert sc["runAsUser"] == 10001
    assert sc["readOnlyRootFilesystem"] is True
    assert sc["allowPrivilegeEscalation"] is False
    assert sc["capabilities"] == {"drop": ["ALL"]}
    assert sc["seccompProfile"] == {"type": "RuntimeDefault"}
    # The one writable place: an emptyDir at /tmp (the api also reads its credentials).
    writable = {m["name"] for m in mounts(default, stage).values() if not m.get("readOnly")}
    assert writable == {"tmp"}
    assert mounts(default, stage)["tmp"] == {"name": "tmp", "mountPath": "/tmp"}
    assert volumes(default, stage)["tmp"]["emptyDir"] == {"sizeLimit": "256Mi"}


@pytest.mark.parametrize("stage", STAGES)
def test_settings_come_from_the_configmap(default: Rendered, stage: str) -> None:
    container = default.container(stage)
    assert container["envFrom"] == [{"configMapRef": {"name": f"{FULL}-config"}}]
    # Only the API's credentials and the producers file are set: the API and the
    # readers of api-events refer to the Secret, nothing else does.
    env = [e["name"] for e in container.get("env", [])]
    if stage == "api":
        assert env == [
            "RECORDER_API_CREDENTIALS_FILE",
            "RECORDER_PRODUCERS_FILE",
            "RECORDER_PRODUCER_KEY_ID",
        ]
        assert "credentials" in volumes(default, stage)
    elif stage in ("router", "insights"):
        assert env == ["RECORDER_PRODUCERS_FILE"]
        assert "credentials" in volumes(default, stage)
    else:
        assert "env" not in container
        assert "credentials" not in volumes(default, stage)


@pytest.mark.parametrize(
    "values",
    [
        {},
        {"credentials": {"existingSecret": "mine", "existingSecretKeys": {"apiCredentials": ""}}},
    ],
)
def test_api_without_credentials_stops_the_render_naming_the_value(
    helm: Helm, values: dict[str, Any]
) -> None:
    assert "credentials.apiCredentials" in helm.template_error(values, base=False)


def test_without_the_api_only_the_producers_file_is_needed(helm: Helm) -> None:
    producers = helm.values_file({"credentials": {"producers": PRODUCERS}})
    proc = helm.run(
        "template",
        "rel",
        str(CHART),
        "--set",
        "api.enabled=false",
        "-f",
        str(producers),
        "--namespace",
        "ns",
    )
    assert "kind: Deployment" in proc.stdout


def test_readers_of_api_events_without_the_producers_file_stop_the_render(helm: Helm) -> None:
    values = {"credentials": {**API_CREDENTIALS["credentials"], "producers": ""}}
    error = helm.template_error(values, base=False)
    assert "router, insights, api need the producers file: set credentials.producers" in error
    values = {"api": {"enabled": False}, "insights": {"enabled": False}}
    assert "router need the producers file" in helm.template_error(values, base=False)


def test_the_api_needs_the_key_it_signs_with(helm: Helm) -> None:
    values = {"credentials": {**API_CREDENTIALS["credentials"], "apiProducerKeyId": ""}}
    assert "credentials.apiProducerKeyId" in helm.template_error(values, base=False)


def test_configmap_holds_the_settings_as_recorder_variables(default: Rendered) -> None:
    assert default.config() == {
        "RECORDER_BOOTSTRAP_SERVERS": "kafka:9092",
        "RECORDER_PARTITIONS": "4",
        "RECORDER_TOPIC_API_EVENTS": "api-events",
        "RECORDER_TOPIC_ROUTED": "routed",
        "RECORDER_TOPIC_DELIVERED": "delivered",
        "RECORDER_TOPIC_TRAILS": "trails",
        "RECORDER_TOPIC_DLQ": "api-events-dlq",
        "RECORDER_TOPIC_DIGEST_STATE": "digest-state",
        "RECORDER_TOPIC_TRAIL_STATUS": "trail-status",
        "RECORDER_TOPIC_INSIGHTS_STATE": "insights-state",
        "RECORDER_TOPIC_ROUTED_RETRY": "routed-retry",
        "RECORDER_TOPIC_AGGREGATION_STATE": "aggregation-state",
        "RECORDER_KAFKA_SECURITY_PROTOCOL": "PLAINTEXT",
        "RECORDER_KAFKA_COMPRESSION": "zstd",
        "RECORDER_AWS_REGION": "us-east-1",
        "RECORDER_AWS_ENDPOINT_URL": "",
        "RECORDER_DELIVERY_PRINCIPAL": "",
        "RECORDER_CUT_INTERVAL": "300",
        "RECORDER_BATCH_MAX_RECORDS": "10000",
        "RECORDER_BATCH_MAX_BYTES": "8388608",
        "RECORDER_DIGEST_INTERVAL": "3600",
        "RECORDER_INSIGHTS_BUCKET_SECONDS": "60",
        "RECORDER_INSIGHTS_BASELINE_WINDOW": "10080",
        "RECORDER_INSIGHTS_THRESHOLD": "4",
        "RECORDER_INSIGHTS_LATENESS": "60",
        "RECORDER_INSIGHTS_GRACE": "60",
        "RECORDER_AGGREGATION_WINDOW_SECONDS": "300",
        "RECORDER_AGGREGATION_LATENESS": "60",
        "RECORDER_PARKING_PERIOD": "2592000",
        "RECORDER_WRITER_BUFFER_BYTES": "268435456",
        "RECORDER_KEYS_BUCKET": "recorder-digest-keys",
        "RECORDER_KEYS_KMS_KEY_ID": "alias/recorder-digest-keys",
        "RECORDER_LOG_LEVEL": "info",
        "RECORDER_METRICS_PORT": "9464",
        "RECORDER_API_PORT": "8080",
        "RECORDER_API_HOST": "0.0.0.0",
    }


def test_configmap_numbers_are_never_in_exponent_form(render: Any) -> None:
    # Helm reads values files as float64; a naive `quote` would print 1.048576e+08.
    config = render(
        {"config": {"batchMaxBytes": 104857600, "batchMaxRecords": 2000000, "cutInterval": 0.5}}
    ).config()
    assert config["RECORDER_BATCH_MAX_BYTES"] == "104857600"
    assert config["RECORDER_BATCH_MAX_RECORDS"] == "2000000"
    assert config["RECORDER_CUT_INTERVAL"] == "0.5"


def test_writer_gets_time_to_flush_on_sigterm(default: Rendered) -> None:
    grace = {
        s: default.deployment(s)["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
        for s in STAGES
    }
    assert grace == {
        "api": 30,
        "router": 30,
        "writer": 120,
        "digester": 60,
        "insights": 30,
        "aggregation": 30,
    }
    # The writer drains open batches within max(10, cut_interval / 10) seconds, then puts to S3.
    assert grace["writer"] >= 2 * max(10, 300 / 10)


@pytest.mark.parametrize("stage", STAGES)
def test_replicas_prefer_different_nodes(default: Rendered, stage: str) -> None:
    pod = default.deployment(stage)["spec"]["template"]["spec"]
    (term,) = pod["affinity"]["podAntiAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"]
    assert term["weight"] == 100
    assert term["podAffinityTerm"]["topologyKey"] == "kubernetes.io/hostname"
    assert term["podAffinityTerm"]["labelSelector"]["matchLabels"] == {
        "app.kubernetes.io/name": "recorder",
        "app.kubernetes.io/instance": RELEASE,
        "app.kubernetes.io/component": stage,
    }


def test_every_object_has_the_standard_labels(default: Rendered) -> None:
    for doc in default.docs:
        labels = doc["metadata"]["labels"]
        assert labels["app.kubernetes.io/name"] == "recorder", doc["metadata"]["name"]
        assert labels["app.kubernetes.io/instance"] == RELEASE
        assert labels["app.kubernetes.io/version"] == "0.1.0"
        assert labels["app.kubernetes.io/managed-by"] == "Helm"
        assert labels["app.kubernetes.io/part-of"] == "recorder"
        assert labels["helm.sh/chart"] == "recorder-0.1.0"


@pytest.mark.parametrize("stage", STAGES)
def test_selectors_pick_exactly_one_stage(default: Rendered, stage: str) -> None:
    deployment = default.deployment(stage)
    selector = deployment["spec"]["selector"]["matchLabels"]
    assert selector == {
        "app.kubernetes.io/name": "recorder",
        "app.kubernetes.io/instance": RELEASE,
        "app.kubernetes.io/component": stage,
    }
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert selector.items() <= pod_labels.items()
    pdb = default.get("PodDisruptionBudget", f"{FULL}-{stage}")
    assert pdb["apiVersion"] == "policy/v1"
    assert pdb["spec"] == {"maxUnavailable": 1, "selector": {"matchLabels": selector}}
    metrics = default.get("Service", f"{FULL}-{stage}-metrics")
    assert metrics["spec"]["selector"] == selector
    assert metrics["metadata"]["labels"]["recorder/metrics"] == "true"
    assert metrics["spec"]["ports"] == [
        {"name": "metrics", "port": 9464, "targetPort": "metrics", "protocol": "TCP"}
    ]


def test_api_service_forwards_8080_to_the_api_port(default: Rendered) -> None:
    service = default.get("Service", f"{FULL}-api")
    assert service["spec"]["type"] == "ClusterIP"
    assert service["spec"]["ports"] == [
        {"name": "http", "port": 8080, "targetPort": "http", "protocol": "TCP"}
    ]
    assert service["spec"]["selector"]["app.kubernetes.io/component"] == "api"
    assert "recorder/metrics" not in service["metadata"]["labels"]
    ports = {p["name"]: p["containerPort"] for p in default.container("api")["ports"]}
    assert ports == {"metrics": 9464, "http": 8080}
    assert default.config()["RECORDER_API_PORT"] == "8080"
    # Only the api stage listens on the API port.
    assert [p["name"] for p in default.container("router")["ports"]] == ["metrics"]


def test_pods_roll_when_the_configmap_changes(default: Rendered, render: Any) -> None:
    def checksum(r: Rendered) -> str:
        return r.deployment("writer")["spec"]["template"]["metadata"]["annotations"][
            "checksum/config"
        ]

    assert len(checksum(default)) == 64
    assert checksum(render({"config": {"cutInterval": 60}})) != checksum(default)
    assert checksum(render({"writer": {"replicaCount": 5}})) == checksum(default)


def test_serviceaccount_does_not_mount_the_api_token(default: Rendered) -> None:
    account = default.get("ServiceAccount", FULL)
    assert account["automountServiceAccountToken"] is False


# --- every feature on ----------------------------------------------------------------------

FULL_VALUES: dict[str, Any] = {
    "image": {
        "repository": "registry.example.com/recorder",
        "digest": "sha256:" + "ab" * 32,
        "pullPolicy": "Always",
    },
    "imagePullSecrets": [{"name": "regcred"}],
    "commonLabels": {"team": "audit"},
    "serviceAccount": {"annotations": {"eks.amazonaws.com/role-arn": "arn:aws:iam::1:role/rec"}},
    "kafka": {
        "bootstrapServers": "k-0.kafka:9093,k-1.kafka:9093",
        "partitions": 12,
        "tls": {
            "enabled": True,
            "checkHostname": False,
            "ca": {"existingSecret": "kafka-cluster-ca-cert", "key": "ca.crt"},
            "clientCert": {
                "existingSecret": "recorder-user",
                "certKey": "user.crt",
                "keyKey": "user.key",
            },
        },
        "sasl": {
            "enabled": True,
            "mechanism": "SCRAM-SHA-256",
            "username": "recorder",
            "existingSecret": "recorder-user",
            "existingSecretPasswordKey": "password",
        },
    },
    "aws": {"region": "eu-west-1", "endpointUrl": "http://minio.storage:9000"},
    "config": {"cutInterval": 60, "logLevel": "DEBUG", "extraEnv": {"RECORDER_EXTRA": 7}},
    "credentials": {
        "existingSecret": "recorder-credentials",
        "existingSecretKeys": {"signingKey": "digest.pem", "signingKeyPassword": "digest-pass"},
    },
    "service": {
        "type": "LoadBalancer",
        "port": 443,
        "loadBalancerSourceRanges": ["10.0.0.0/8"],
        "annotations": {"service.beta.kubernetes.io/aws-load-balancer-type": "nlb"},
    },
    "metrics": {
        "serviceMonitor": {
            "enabled": True,
            "labels": {"release": "prometheus"},
            "interval": "15s",
            "scrapeTimeout": "10s",
        }
    },
    "api": {"replicaCount": 3, "podAnnotations": {"example.com/team": "audit"}},
    "router": {
        "autoscaling": {"enabled": True, "minReplicas": 3, "maxReplicas": 12},
        "resources": {"requests": {"cpu": "1", "memory": "1Gi"}, "limits": {"memory": "2Gi"}},
    },
    "writer": {
        "autoscaling": {
            "enabled": True,
            "minReplicas": 2,
            "maxReplicas": 6,
            "targetCPUUtilizationPercentage": 60,
            "behavior": {"scaleDown": {"stabilizationWindowSeconds": 600}},
        },
        "terminationGracePeriodSeconds": 300,
        "pdb": {"minAvailable": 1},
        "extraArgs": ["--verbose"],
        "extraEnv": [{"name": "RECORDER_WRITER_TRACE", "value": "1"}],
    },
    "digester": {"replicaCount": 2, "podAntiAffinityPreset": "hard"},
}


@pytest.fixture(scope="module")
def full(render: Any) -> Rendered:
    return render(FULL_VALUES)


def test_full_render_objects(full: Rendered) -> None:
    assert full.kinds() == {
        "ServiceAccount": 1,
        "ConfigMap": 1,
        "Deployment": 6,
        "Service": 7,
        "PodDisruptionBudget": 6,
        "HorizontalPodAutoscaler": 2,
        "ServiceMonitor": 1,
    }  # no Secret: credentials.existingSecret is used instead
    for doc in full.docs:
        assert doc["metadata"]["labels"]["team"] == "audit"


def test_image_by_digest_and_pull_secrets(full: Rendered) -> None:
    for stage in STAGES:
        assert full.container(stage)["image"] == "registry.example.com/recorder@sha256:" + "ab" * 32
        assert full.container(stage)["imagePullPolicy"] == "Always"
        pod = full.deployment(stage)["spec"]["template"]["spec"]
        assert pod["imagePullSecrets"] == [{"name": "regcred"}]


def test_replicas_are_left_to_the_hpa_when_autoscaling(full: Rendered) -> None:
    assert full.deployment("api")["spec"]["replicas"] == 3
    assert full.deployment("digester")["spec"]["replicas"] == 2
    assert "replicas" not in full.deployment("router")["spec"]
    assert "replicas" not in full.deployment("writer")["spec"]
    hpas = {h["metadata"]["name"]: h["spec"] for h in full.all("HorizontalPodAutoscaler")}
    assert set(hpas) == {f"{FULL}-router", f"{FULL}-writer"}
    writer = hpas[f"{FULL}-writer"]
    assert writer["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": f"{FULL}-writer",
    }
    assert (writer["minReplicas"], writer["maxReplicas"]) == (2, 6)
    assert writer["metrics"] == [
        {
            "type": "Resource",
            "resource": {
                "name": "cpu",
                "target": {"type": "Utilization", "averageUtilization": 60},
            },
        }
    ]
    assert writer["behavior"] == {"scaleDown": {"stabilizationWindowSeconds": 600}}
    router = hpas[f"{FULL}-router"]
    assert (router["minReplicas"], router["maxReplicas"]) == (3, 12)
    assert router["metrics"][0]["resource"]["target"]["averageUtilization"] == 70
    assert "behavior" not in router


def test_custom_resources_and_grace_period(full: Rendered) -> None:
    assert full.container("router")["resources"] == {
        "requests": {"cpu": "1", "memory": "1Gi"},
        "limits": {"memory": "2Gi"},
    }
    assert full.container("api")["resources"] == {
        "requests": {"cpu": "100m", "memory": "128Mi"},
        "limits": {"memory": "256Mi"},
    }
    spec = full.deployment("writer")["spec"]["template"]["spec"]
    assert spec["terminationGracePeriodSeconds"] == 300
    assert full.container("writer")["args"] == [
        "run",
        "writer",
        "--metrics-host",
        "0.0.0.0",
        "--verbose",
    ]
    assert full.env("writer")["RECORDER_WRITER_TRACE"] == {
        "name": "RECORDER_WRITER_TRACE",
        "value": "1",
    }


def test_pdb_min_available_replaces_max_unavailable(full: Rendered) -> None:
    spec = full.get("PodDisruptionBudget", f"{FULL}-writer")["spec"]
    assert spec["minAvailable"] == 1
    assert "maxUnavailable" not in spec


def test_hard_anti_affinity_preset(full: Rendered) -> None:
    affinity = full.deployment("digester")["spec"]["template"]["spec"]["affinity"]
    (term,) = affinity["podAntiAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
    assert term["topologyKey"] == "kubernetes.io/hostname"
    assert term["labelSelector"]["matchLabels"]["app.kubernetes.io/component"] == "digester"


def test_pod_annotations_keep_the_checksum(full: Rendered) -> None:
    annotations = full.deployment("api")["spec"]["template"]["metadata"]["annotations"]
    assert annotations["example.com/team"] == "audit"
    assert "checksum/config" in annotations
    assert "checksum/secret" not in annotations  # the chart manages no Secret here


def test_service_monitor_scrapes_every_stage(full: Rendered) -> None:
    monitor = full.get("ServiceMonitor", FULL)
    assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
    assert monitor["metadata"]["labels"]["release"] == "prometheus"
    spec = monitor["spec"]
    assert spec["namespaceSelector"] == {"matchNames": [NAMESPACE]}
    assert spec["endpoints"] == [
        {
            "port": "metrics",
            "path": "/metrics",
            "interval": "15s",
            "scrapeTimeout": "10s",
            "honorLabels": False,
        }
    ]
    wanted = spec["selector"]["matchLabels"]
    selected = [
        s["metadata"]["name"]
        for s in full.all("Service")
        if wanted.items() <= s["metadata"]["labels"].items()
    ]
    assert sorted(selected) == sorted(f"{FULL}-{s}-metrics" for s in STAGES)


def test_api_service_type_and_load_balancer_fields(full: Rendered) -> None:
    service = full.get("Service", f"{FULL}-api")
    assert service["spec"]["type"] == "LoadBalancer"
    assert service["spec"]["loadBalancerSourceRanges"] == ["10.0.0.0/8"]
    assert service["spec"]["externalTrafficPolicy"] == "Cluster"
    assert service["spec"]["ports"] == [
        {"name": "http", "port": 443, "targetPort": "http", "protocol": "TCP"}
    ]
    annotations = service["metadata"]["annotations"]
    assert annotations["service.beta.kubernetes.io/aws-load-balancer-type"] == "nlb"


def test_node_port_service(render: Any) -> None:
    service = render({"service": {"type": "NodePort", "nodePort": 30080}}).get(
        "Service", f"{FULL}-api"
    )
    assert service["spec"]["type"] == "NodePort"
    assert service["spec"]["ports"][0]["nodePort"] == 30080
    assert "loadBalancerSourceRanges" not in service["spec"]


def test_kafka_tls_and_sasl_settings(full: Rendered) -> None:
    config = full.config()
    assert config["RECORDER_BOOTSTRAP_SERVERS"] == "k-0.kafka:9093,k-1.kafka:9093"
    assert config["RECORDER_PARTITIONS"] == "12"
    assert config["RECORDER_KAFKA_SECURITY_PROTOCOL"] == "SASL_SSL"
    assert config["RECORDER_KAFKA_SSL_CHECK_HOSTNAME"] == "false"
    assert config["RECORDER_KAFKA_SSL_CAFILE"] == f"{TLS_DIR}/ca.crt"
    assert config["RECORDER_KAFKA_SSL_CERTFILE"] == f"{TLS_DIR}/client.crt"
    assert config["RECORDER_KAFKA_SSL_KEYFILE"] == f"{TLS_DIR}/client.key"
    assert config["RECORDER_KAFKA_SASL_MECHANISM"] == "SCRAM-SHA-256"
    assert config["RECORDER_KAFKA_SASL_USERNAME"] == "recorder"
    assert "RECORDER_KAFKA_SASL_PASSWORD" not in config  # never in the ConfigMap
    assert config["RECORDER_AWS_REGION"] == "eu-west-1"
    assert config["RECORDER_AWS_ENDPOINT_URL"] == "http://minio.storage:9000"
    assert config["RECORDER_LOG_LEVEL"] == "debug"
    assert config["RECORDER_CUT_INTERVAL"] == "60"
    assert config["RECORDER_EXTRA"] == "7"
    for stage in STAGES:
        assert secret_ref(full.env(stage)["RECORDER_KAFKA_SASL_PASSWORD"]) == (
            "recorder-user",
            "password",
        )
        assert mounts(full, stage)["kafka-tls"] == {
            "name": "kafka-tls",
            "mountPath": TLS_DIR,
            "readOnly": True,
        }
        assert volumes(full, stage)["kafka-tls"]["projected"]["sources"] == [
            {
                "secret": {
                    "name": "kafka-cluster-ca-cert",
                    "items": [{"key": "ca.crt", "path": "ca.crt"}],
                }
            },
            {
                "secret": {
                    "name": "recorder-user",
                    "items": [
                        {"key": "user.crt", "path": "client.crt"},
                        {"key": "user.key", "path": "client.key"},
                    ],
                }
            },
        ]


@pytest.mark.parametrize(
    ("tls", "sasl", "protocol"),
    [(False, False, "PLAINTEXT"), (True, False, "SSL"), (False, True, "SASL_PLAINTEXT")],
)
def test_security_protocol_follows_the_switches(
    render: Any, tls: bool, sasl: bool, protocol: str
) -> None:
    values = {
        "kafka": {
            "tls": {"enabled": tls},
            "sasl": {"enabled": sasl, "username": "u", "password": "p"},
        }
    }
    rendered = render(values)
    config = rendered.config()
    assert config["RECORDER_KAFKA_SECURITY_PROTOCOL"] == protocol
    # TLS without a CA Secret trusts the image's store: no CA file, no volume.
    assert "RECORDER_KAFKA_SSL_CAFILE" not in config
    assert "kafka-tls" not in volumes(rendered, "writer")
    assert ("RECORDER_KAFKA_SSL_CHECK_HOSTNAME" in config) is tls
    assert ("RECORDER_KAFKA_SASL_MECHANISM" in config) is sasl


def test_existing_secret_is_used_instead_of_the_charts(full: Rendered) -> None:
    assert full.all("Secret") == []
    for stage in STAGES:
        env = full.env(stage)
        assert secret_ref(env["RECORDER_AWS_ACCESS_KEY_ID"]) == (
            "recorder-credentials",
            "aws-access-key-id",
        )
        assert secret_ref(env["RECORDER_AWS_SECRET_ACCESS_KEY"]) == (
            "recorder-credentials",
            "aws-secret-access-key",
        )
    api = full.env("api")
    assert api["RECORDER_API_CREDENTIALS_FILE"]["value"] == f"{SECRETS_DIR}/api-credentials.json"
    assert api["RECORDER_PRODUCERS_FILE"]["value"] == f"{SECRETS_DIR}/producers.json"
    assert api["RECORDER_PRODUCER_KEY_ID"]["value"] == "api-1"
    assert volumes(full, "api")["credentials"]["secret"] == {
        "secretName": "recorder-credentials",
        "defaultMode": 0o440,
        "items": [
            {"key": "api-credentials.json", "path": "api-credentials.json"},
            {"key": "producers.json", "path": "producers.json"},
            {"key": "digest.pem", "path": "signing-key.pem"},
        ],
    }
    digester = full.env("digester")
    assert digester["RECORDER_SIGNING_KEY_FILE"]["value"] == f"{SECRETS_DIR}/signing-key.pem"
    assert secret_ref(digester["RECORDER_SIGNING_KEY_PASSWORD"]) == (
        "recorder-credentials",
        "digest-pass",
    )
    assert "RECORDER_API_CREDENTIALS_FILE" not in digester
    assert volumes(full, "digester")["credentials"]["secret"]["items"] == [
        {"key": "digest.pem", "path": "signing-key.pem"}
    ]
    assert volumes(full, "router")["credentials"]["secret"]["items"] == [
        {"key": "producers.json", "path": "producers.json"}
    ]
    assert "credentials" not in volumes(full, "writer")
    for stage in ("router", "writer"):
        assert "RECORDER_SIGNING_KEY_FILE" not in full.env(stage)


def test_existing_secret_without_aws_keys_for_irsa(render: Any) -> None:
    rendered = render(
        {
            "credentials": {
                "existingSecret": "creds",
                "existingSecretKeys": {"awsAccessKeyId": "", "awsSecretAccessKey": ""},
            }
        }
    )
    assert "RECORDER_AWS_ACCESS_KEY_ID" not in rendered.env("writer")
    assert rendered.env("api")["RECORDER_API_CREDENTIALS_FILE"]["value"].startswith(SECRETS_DIR)


# --- the chart's own Secret ------------------------------------------------------------------

PEM = "-----BEGIN PRIVATE KEY-----\nMIIB\n-----END PRIVATE KEY-----\n"


@pytest.fixture(scope="module")
def with_secret(render: Any) -> Rendered:
    return render(
        {
            "credentials": {
                "awsAccessKeyId": "AKIAEXAMPLE",
                "awsSecretAccessKey": "s3cr3t",
                "apiCredentials": '{"AKIAAPI": "apisecret"}',
                "signingKey": PEM,
                "signingKeyPassword": "pem-pass",
            },
            "kafka": {"sasl": {"enabled": True, "username": "rec", "password": "kafka-pass"}},
        }
    )


def test_chart_secret_holds_the_credentials(with_secret: Rendered) -> None:
    secret = with_secret.get("Secret", FULL)
    assert secret["type"] == "Opaque"
    data = {k: base64.b64decode(v).decode() for k, v in secret["data"].items()}
    assert data == {
        "aws-access-key-id": "AKIAEXAMPLE",
        "aws-secret-access-key": "s3cr3t",
        "api-credentials.json": '{"AKIAAPI": "apisecret"}',
        "producers.json": PRODUCERS,
        "signing-key.pem": PEM,
        "signing-key-password": "pem-pass",
        "kafka-sasl-password": "kafka-pass",
    }
    # No secret value leaks into the ConfigMap.
    config_text = yaml.safe_dump(with_secret.config())
    for value in ("s3cr3t", "apisecret", "kafka-pass", "pem-pass", "BEGIN PRIVATE KEY"):
        assert value not in config_text


@pytest.mark.parametrize("stage", STAGES)
def test_stages_read_only_the_secrets_they_need(with_secret: Rendered, stage: str) -> None:
    env = with_secret.env(stage)
    assert secret_ref(env["RECORDER_AWS_ACCESS_KEY_ID"]) == (FULL, "aws-access-key-id")
    assert secret_ref(env["RECORDER_KAFKA_SASL_PASSWORD"]) == (FULL, "kafka-sasl-password")
    files = {
        item["path"]
        for item in volumes(with_secret, stage).get("credentials", {"secret": {"items": []}})[
            "secret"
        ]["items"]
    }
    expected = {
        "api": {"api-credentials.json", "producers.json", "signing-key.pem"},
        "router": {"producers.json"},
        "writer": set(),
        "digester": {"signing-key.pem"},
        "insights": {"producers.json"},
        "aggregation": set(),  # it reads routed: what the routers admitted
    }[stage]
    assert files == expected
    assert ("RECORDER_SIGNING_KEY_FILE" in env) is (stage in {"api", "digester"})
    assert ("RECORDER_SIGNING_KEY_PASSWORD" in env) is (stage in {"api", "digester"})
    assert ("RECORDER_API_CREDENTIALS_FILE" in env) is (stage == "api")
    if files:
        assert mounts(with_secret, stage)["credentials"] == {
            "name": "credentials",
            "mountPath": SECRETS_DIR,
            "readOnly": True,
        }


def test_pods_roll_when_the_charts_secret_changes(with_secret: Rendered, render: Any) -> None:
    annotations = with_secret.deployment("writer")["spec"]["template"]["metadata"]["annotations"]
    changed = render({"credentials": {"awsAccessKeyId": "AKIAOTHER"}})
    other = changed.deployment("writer")["spec"]["template"]["metadata"]["annotations"]
    assert len(annotations["checksum/secret"]) == 64
    assert other["checksum/secret"] != annotations["checksum/secret"]


# --- switches and guards -----------------------------------------------------------------------


def test_a_disabled_stage_renders_nothing(render: Any) -> None:
    rendered = render(
        {
            "api": {"enabled": False},
            "digester": {"enabled": False},
            "insights": {"enabled": False},
            "aggregation": {"enabled": False},
        }
    )
    assert sorted(rendered.names("Deployment")) == [
        f"Deployment/{FULL}-router",
        f"Deployment/{FULL}-writer",
    ]
    assert sorted(rendered.names("Service")) == [
        f"Service/{FULL}-router-metrics",
        f"Service/{FULL}-writer-metrics",
    ]
    assert len(rendered.all("PodDisruptionBudget")) == 2


def test_custom_affinity_replaces_the_preset(render: Any) -> None:
    affinity = {
        "nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [
                    {"matchExpressions": [{"key": "pool", "operator": "In", "values": ["a"]}]}
                ]
            }
        }
    }
    rendered = render({"writer": {"affinity": affinity}, "router": {"podAntiAffinityPreset": ""}})
    assert rendered.deployment("writer")["spec"]["template"]["spec"]["affinity"] == affinity
    assert "affinity" not in rendered.deployment("router")["spec"]["template"]["spec"]


def test_pdb_and_probes_can_be_turned_off(render: Any) -> None:
    rendered = render(
        {"router": {"pdb": {"create": False}, "livenessProbe": {"enabled": False}}},
    )
    assert f"PodDisruptionBudget/{FULL}-router" not in rendered.names()
    assert "livenessProbe" not in rendered.container("router")
    assert "readinessProbe" in rendered.container("router")


def test_names_stay_valid_dns_labels(render: Any) -> None:
    rendered = render({"fullnameOverride": "x" * 80})
    for doc in rendered.docs:
        name = doc["metadata"]["name"]
        assert len(name) <= 63, name
        assert not name.endswith("-")


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"kafka": {"sasl": {"enabled": True, "password": "p"}}}, "kafka.sasl.username"),
        ({"kafka": {"sasl": {"enabled": True, "username": "u"}}}, "kafka.sasl.password"),
        (
            {"kafka": {"sasl": {"enabled": True, "username": "u", "mechanism": "GSSAPI"}}},
            "kafka.sasl.mechanism",
        ),
        ({"config": {"logLevel": "trace"}}, "config.logLevel"),
        ({"writer": {"podAntiAffinityPreset": "maybe"}}, "writer.podAntiAffinityPreset"),
        (
            {"router": {"autoscaling": {"enabled": True, "minReplicas": 5, "maxReplicas": 2}}},
            "router.autoscaling.minReplicas",
        ),
        ({"credentials": {"signingKeyPassword": "p"}}, "no signing key"),
    ],
)
def test_bad_values_stop_the_render_with_the_value_named(
    helm: Helm, values: dict[str, Any], message: str
) -> None:
    assert message in helm.template_error(values)


# --- NOTES.txt --------------------------------------------------------------------------------


def notes(helm: Helm, tmp_path: Path, values: dict[str, Any] | None = None, *extra: str) -> str:
    """NOTES.txt rendered through `helm template` (which skips it) by wrapping it in a template."""
    chart = tmp_path / "recorder"
    shutil.copytree(CHART, chart)
    text = (chart / "templates" / "NOTES.txt").read_text()
    (chart / "templates" / "NOTES.txt").unlink()
    (chart / "templates" / "zz-notes.yaml").write_text(
        '{{- define "zz.notes" }}'
        + text
        + '{{- end }}\nnotes: {{ include "zz.notes" . | quote }}\n'
    )
    args = ["--show-only", "templates/zz-notes.yaml", *extra]
    (doc,) = helm.template(values, *args, chart=chart).docs
    return doc["notes"]


def test_notes_tell_how_to_reach_the_api(helm: Helm, tmp_path: Path) -> None:
    text = notes(helm, tmp_path)
    assert f"kubectl port-forward --namespace {NAMESPACE} svc/{FULL}-api 8080:8080" in text
    assert "must exist on the cluster" in text
    assert "WARNING" not in text


def test_notes_warn_about_idle_replicas(helm: Helm, tmp_path: Path) -> None:
    text = notes(helm, tmp_path, {"writer": {"replicaCount": 6}})
    assert "WARNING: writer may run 6 replicas but the topics have 4 partitions" in text


# --- Deploy on AWS (README) ---------------------------------------------------------------


def readme_values() -> dict[str, Any]:
    """The ``values-aws.yaml`` block of the README's "Deploy on AWS" section."""
    text = (CHART.parents[1] / "README.md").read_text()
    section = text.split("\n## Deploy on AWS\n", 1)[1].split("\n## ", 1)[0]
    blocks = [b.split("\n", 1)[1] for b in section.split("```yaml")[1:]]
    (block,) = [b.split("```", 1)[0] for b in blocks if b.startswith("# values-aws.yaml")]
    return yaml.safe_load(block)  # type: ignore[no-any-return]


def test_the_readmes_aws_values_render_msk_iam_and_the_irsa_role_as_principal(helm: Helm) -> None:
    rendered = helm.template(readme_values())
    config = rendered.config()
    role = "arn:aws:iam::444455556666:role/recorder-writer"
    assert config["RECORDER_DELIVERY_PRINCIPAL"] == role
    assert config["RECORDER_KAFKA_SECURITY_PROTOCOL"] == "SASL_SSL"
    assert config["RECORDER_KAFKA_SASL_MECHANISM"] == "OAUTHBEARER"
    assert config["RECORDER_KAFKA_MSK_REGION"] == "eu-west-1"
    assert "RECORDER_KAFKA_SASL_USERNAME" not in config
    account = rendered.get("ServiceAccount", FULL)
    assert account["metadata"]["annotations"]["eks.amazonaws.com/role-arn"] == role
    for stage in STAGES:
        env = rendered.env(stage)
        assert "RECORDER_KAFKA_SASL_PASSWORD" not in env and "RECORDER_AWS_ACCESS_KEY_ID" not in env


def test_an_explicit_delivery_principal_wins_and_none_leaves_it_to_sts(helm: Helm) -> None:
    other = "arn:aws:iam::444455556666:role/writer-path/recorder"
    assert (
        helm.template({"aws": {"deliveryPrincipal": other}}).config()["RECORDER_DELIVERY_PRINCIPAL"]
        == other
    )
    assert helm.template().config()["RECORDER_DELIVERY_PRINCIPAL"] == ""


def test_msk_iam_needs_tls(helm: Helm) -> None:
    values = {"kafka": {"sasl": {"enabled": True, "mechanism": "OAUTHBEARER"}}}
    assert "OAUTHBEARER (Amazon MSK IAM) needs kafka.tls.enabled" in helm.template_error(values)
