//! `depends_on` → init containers that hold a pod until what it depends on
//! is there.
//!
//! A dependency on a long-running service (`service_started` or
//! `service_healthy`) waits until that service's Service answers: a
//! `nc -z NAME PORT` loop when it has a port, an `nslookup NAME` loop when its
//! Service is headless (a headless name resolves only to ready pods). Both
//! conditions wait for readiness, which is the healthcheck when there is one:
//! a pod cannot tell "started" from "ready" without the API. The image is
//! `--wait-image` (default [`crate::options::DEFAULT_WAIT_IMAGE`]).
//!
//! A dependency with `service_completed_successfully` is a Job; waiting for
//! it needs the API, so the init container runs `kubectl wait
//! --for=condition=complete job/NAME` (image `--kubectl-image`) under the
//! project's ServiceAccount `<project>-job-waiter`, which a Role lets read
//! Jobs in its namespace, and nothing else. Each such wait is reported.

use crate::{names, Ctx};
use serde_json::{json, Value};
use wharf_compose::{DependencyCondition, Service};

/// The ServiceAccount of pods that wait for a Job.
pub fn waiter_account(ctx: &Ctx) -> String {
    names::dns_label(
        &format!("{}-job-waiter", ctx.project.name),
        names::MAX_LABEL,
    )
}

/// The init containers of `service`; true in the flag when one waits for a Job.
pub fn init_containers(ctx: &mut Ctx, s: &Service) -> (Vec<Value>, bool) {
    let mut out = Vec::new();
    let mut waits_for_job = false;
    for (dep, d) in &s.depends_on {
        let path = format!("services.{}.depends_on.{dep}", s.name);
        let Some(target) = ctx.project.services.get(dep) else {
            ctx.report
                .add(path, "the service is not enabled: not waited for (dropped)");
            continue;
        };
        if !d.required {
            ctx.report.add(
                format!("{path}.required"),
                "false: the pod does not wait for it (dropped)",
            );
            continue;
        }
        if d.restart {
            ctx.report.add(
                format!("{path}.restart"),
                "Kubernetes does not restart dependents when a dependency changes (dropped)",
            );
        }
        let name = ctx.name_of(dep);
        let init_name = names::dns_label(&format!("wait-for-{name}"), names::MAX_LABEL);
        if ctx.jobs.contains(dep) {
            if d.condition != DependencyCondition::ServiceCompletedSuccessfully {
                ctx.report.add(
                    format!("{path}.condition"),
                    "the dependency is a Job (another service waits for it to complete): this pod waits for it to complete too (changed)",
                );
            }
            ctx.report.add(
                path,
                format!(
                    "waits for Job {name} to complete with `kubectl wait`: needs the ServiceAccount, Role and RoleBinding {} written with it",
                    waiter_account(ctx)
                ),
            );
            waits_for_job = true;
            out.push(json!({
                "name": init_name,
                "image": ctx.options.kubectl_image,
                "command": ["kubectl", "wait", "--for=condition=complete", "--timeout=-1s", format!("job/{name}")],
            }));
            continue;
        }
        let check = match crate::network::service_ports(target).first() {
            Some((port, proto)) if proto == "TCP" => format!("nc -z -w 2 {name} {port}"),
            _ => format!("nslookup {name}"),
        };
        out.push(json!({
            "name": init_name,
            "image": ctx.options.wait_image,
            "command": ["sh", "-c", format!("until {check} >/dev/null 2>&1; do echo waiting for {name}; sleep 2; done")],
        }));
    }
    (out, waits_for_job)
}

/// The ServiceAccount, Role and RoleBinding that let pods wait for Jobs,
/// when some pod does.
pub fn job_waiter_rbac(ctx: &mut Ctx) {
    let uses = ctx.manifests.iter().any(|m| {
        m.value["spec"]["template"]["spec"]["serviceAccountName"] == json!(waiter_account(ctx))
    });
    if !uses {
        return;
    }
    let name = waiter_account(ctx);
    let labels = ctx.meta.labels(None, &name);
    let account = ctx
        .meta
        .object("v1", "ServiceAccount", &name, labels.clone(), json!({}));
    let role = ctx.meta.object(
        "rbac.authorization.k8s.io/v1",
        "Role",
        &name,
        labels.clone(),
        json!({"rules": [{"apiGroups": ["batch"], "resources": ["jobs"], "verbs": ["get", "list", "watch"]}]}),
    );
    let mut subject = json!({"kind": "ServiceAccount", "name": name});
    if let Some(ns) = &ctx.meta.namespace {
        subject["namespace"] = json!(ns);
    }
    let binding = ctx.meta.object(
        "rbac.authorization.k8s.io/v1",
        "RoleBinding",
        &name,
        labels,
        json!({
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": name},
            "subjects": [subject],
        }),
    );
    ctx.push(account);
    ctx.push(role);
    ctx.push(binding);
}
