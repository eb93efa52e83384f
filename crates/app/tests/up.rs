//! The whole `up` pipeline of the application core, without the CLI:
//! pull policies, the build of a service with `build:`, converge, `--wait`
//! on a health check, and the rollback of a failed `up`, against the fake
//! engine and an in-memory image source.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Duration;
use wharf_app::up::{BuildPolicy, UpRequest};
use wharf_app::{AppError, Event, ImageSource, Reporter};
use wharf_compose::Project;
use wharf_engine_api::*;
use wharf_image::build::BuildRequest;
use wharf_image::ImageError;
use wharf_orchestrator::{Status, UpOptions};
use wharf_testkit::FakeEngine;

const COMPOSE: &str = r#"
services:
  db:
    image: db:1
    healthcheck:
      test: ["CMD", "pg_isready"]
      interval: 1s
  web:
    build: ./web
    depends_on: [db]
  cache:
    image: cache:7
    pull_policy: never
"#;

/// A project `shop` in a temporary directory, with web's build context.
fn project(compose: &str) -> (tempfile::TempDir, Project) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("web")).unwrap();
    std::fs::write(dir.path().join("web/Dockerfile"), "FROM db:1\n").unwrap();
    std::fs::write(dir.path().join("compose.yaml"), compose).unwrap();
    let options = wharf_compose::LoadOptions {
        cwd: dir.path().to_path_buf(),
        files: Vec::new(),
        project_directory: None,
        project_name: Some("shop".into()),
        env: BTreeMap::new(),
        env_files: Vec::new(),
        profiles: Vec::new(),
        services: Vec::new(),
    };
    let project = wharf_compose::load(&options).unwrap();
    (dir, project)
}

/// Images a registry would have, pulls and builds into the fake engine's
/// store, with a log of what was asked.
struct MemoryImages<'a> {
    engine: &'a FakeEngine,
    registry: Vec<&'static str>,
    log: Mutex<Vec<String>>,
}

impl<'a> MemoryImages<'a> {
    fn new(engine: &'a FakeEngine, registry: &[&'static str]) -> Self {
        MemoryImages {
            engine,
            registry: registry.to_vec(),
            log: Mutex::new(Vec::new()),
        }
    }

    fn log(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }
}

impl ImageSource for MemoryImages<'_> {
    fn exists(&self, reference: &str) -> bool {
        matches!(self.engine.image_inspect(reference), Ok(Some(_)))
    }

    fn pull(&self, reference: &str, _: Option<&str>, _: &dyn Reporter) -> Result<(), ImageError> {
        self.log.lock().unwrap().push(format!("pull {reference}"));
        if !self.registry.contains(&reference) {
            return Err(ImageError::NotFound {
                reference: reference.to_string(),
                hint: "the registry has no such image".into(),
            });
        }
        self.engine.add_image(reference);
        Ok(())
    }

    fn push(&self, reference: &str, _: &dyn Reporter) -> std::result::Result<(), AppError> {
        self.log.lock().unwrap().push(format!("push {reference}"));
        Ok(())
    }

    fn build(&self, request: &BuildRequest, _: &dyn Reporter) -> Result<String, AppError> {
        self.log
            .lock()
            .unwrap()
            .push(format!("build {}", request.tags.join(",")));
        let mut id = String::new();
        for tag in &request.tags {
            id = self.engine.add_image(tag);
        }
        Ok(id)
    }

    fn inputs_digest(&self, _: &BuildRequest) -> Option<String> {
        Some("sha256:inputs".into())
    }

    fn recorded_inputs(&self, _: &str) -> Option<String> {
        None
    }

    fn remove(&self, reference: &str) -> std::result::Result<(), EngineError> {
        self.log.lock().unwrap().push(format!("remove {reference}"));
        Ok(())
    }

    fn prune_dangling(&self) -> std::result::Result<(), AppError> {
        self.log.lock().unwrap().push("prune".into());
        Ok(())
    }
}

/// The fake engine, with a health check decided on the `healthy_after`th
/// look (healthy, or unhealthy unless `passes`): containers with a health
/// check report `starting` until then.
struct Healthcheck<'a> {
    inner: &'a FakeEngine,
    looks: AtomicUsize,
    healthy_after: AtomicUsize,
    /// What the check says from then on.
    passes: bool,
}

impl Healthcheck<'_> {
    fn health(&self, mut info: ContainerInfo) -> ContainerInfo {
        let checked = self
            .inner
            .spec(&info.name)
            .is_some_and(|spec| spec.healthcheck.is_some());
        if checked && info.state.is_running() {
            let looks = self.looks.load(Ordering::SeqCst);
            info.health = Some(if looks < self.healthy_after.load(Ordering::SeqCst) {
                Health::Starting
            } else if self.passes {
                Health::Healthy
            } else {
                Health::Unhealthy
            });
        }
        info
    }
}

impl VolumeEngine for Healthcheck<'_> {
    fn create_volume(&self, spec: &VolumeSpec) -> Result<VolumeInfo> {
        self.inner.create_volume(spec)
    }
    fn list_volumes(&self, labels: &[(&str, &str)]) -> Result<Vec<VolumeInfo>> {
        self.inner.list_volumes(labels)
    }
    fn inspect_volume(&self, name: &str) -> Result<VolumeInfo> {
        self.inner.inspect_volume(name)
    }
    fn remove_volume(&self, name: &str, force: bool) -> Result<()> {
        self.inner.remove_volume(name, force)
    }
    fn validate_mounts(&self, spec: &ContainerSpec) -> Result<()> {
        self.inner.validate_mounts(spec)
    }
}

impl Engine for Healthcheck<'_> {
    fn lock_project(&self, project: &str) -> Result<LockGuard> {
        self.inner.lock_project(project)
    }
    fn image_inspect(&self, reference: &str) -> Result<Option<ImageInfo>> {
        self.inner.image_inspect(reference)
    }
    fn list_containers(&self, labels: &[(&str, &str)]) -> Result<Vec<ContainerInfo>> {
        self.looks.fetch_add(1, Ordering::SeqCst);
        let found = self.inner.list_containers(labels)?;
        Ok(found.into_iter().map(|c| self.health(c)).collect())
    }
    fn create_container(&self, spec: &ContainerSpec) -> Result<String> {
        self.inner.create_container(spec)
    }
    fn start_container(&self, id: &str) -> Result<()> {
        self.inner.start_container(id)
    }
    fn start_attached(&self, id: &str) -> Result<i32> {
        self.inner.start_attached(id)
    }
    fn stop_container(&self, id: &str, timeout: Option<Duration>) -> Result<()> {
        self.inner.stop_container(id, timeout)
    }
    fn kill_container(&self, id: &str, signal: &str) -> Result<()> {
        self.inner.kill_container(id, signal)
    }
    fn pause_container(&self, id: &str) -> Result<()> {
        self.inner.pause_container(id)
    }
    fn unpause_container(&self, id: &str) -> Result<()> {
        self.inner.unpause_container(id)
    }
    fn remove_container(&self, id: &str, force: bool) -> Result<()> {
        self.inner.remove_container(id, force)
    }
    fn rename_container(&self, id: &str, new_name: &str) -> Result<()> {
        self.inner.rename_container(id, new_name)
    }
    fn inspect_container(&self, id_or_name: &str) -> Result<ContainerInfo> {
        Ok(self.health(self.inner.inspect_container(id_or_name)?))
    }
    fn list_networks(&self, labels: &[(&str, &str)]) -> Result<Vec<NetworkInfo>> {
        self.inner.list_networks(labels)
    }
    fn create_network(&self, spec: &NetworkSpec) -> Result<String> {
        self.inner.create_network(spec)
    }
    fn remove_network(&self, id: &str) -> Result<()> {
        self.inner.remove_network(id)
    }
    fn connect_network(&self, network: &str, container: &str, a: &NetworkAttachment) -> Result<()> {
        self.inner.connect_network(network, container, a)
    }
    fn disconnect_network(&self, network: &str, container: &str, force: bool) -> Result<()> {
        self.inner.disconnect_network(network, container, force)
    }
    fn exec(&self, id: &str, spec: &ExecSpec) -> Result<i32> {
        self.inner.exec(id, spec)
    }
    fn logs(
        &self,
        id: &str,
        options: &LogOptions,
        sink: &mut dyn FnMut(LogLine) -> bool,
    ) -> Result<()> {
        self.inner.logs(id, options, sink)
    }
    fn stats(&self, id: &str) -> Result<StatsSample> {
        self.inner.stats(id)
    }
    fn top(&self, id: &str) -> Result<Vec<ProcessInfo>> {
        self.inner.top(id)
    }
    fn stat_path(&self, id: &str, path: &str, follow_link: bool) -> Result<PathStat> {
        self.inner.stat_path(id, path, follow_link)
    }
    fn copy_from_container(
        &self,
        id: &str,
        path: &str,
        follow_link: bool,
        name: Option<&str>,
        out: &mut dyn std::io::Write,
    ) -> Result<PathStat> {
        self.inner
            .copy_from_container(id, path, follow_link, name, out)
    }
    fn copy_to_container(
        &self,
        id: &str,
        dir: &str,
        archive: &mut dyn std::io::Read,
        options: &CopyToOptions,
    ) -> Result<()> {
        self.inner.copy_to_container(id, dir, archive, options)
    }
    fn remove_path(&self, id: &str, path: &str) -> Result<()> {
        self.inner.remove_path(id, path)
    }
}

/// Every event, for assertions.
#[derive(Default)]
struct Events(Mutex<Vec<Event>>);

impl Reporter for Events {
    fn report(&self, event: Event) {
        self.0.lock().unwrap().push(event);
    }
}

impl Events {
    fn pulls(&self) -> Vec<String> {
        let events = self.0.lock().unwrap();
        events
            .iter()
            .filter_map(|e| match e {
                Event::Pull { services, status } => Some(format!("{services} {status:?}")),
                _ => None,
            })
            .collect()
    }

    fn has_status(&self, container: &str, want: &Status) -> bool {
        self.0.lock().unwrap().iter().any(|e| {
            matches!(e, Event::Resource(wharf_orchestrator::Event::Container { name, status })
                if name == container && status == want)
        })
    }
}

fn request(pull: Option<&str>, build: BuildPolicy, wait: bool) -> UpRequest {
    UpRequest {
        options: UpOptions::default(),
        pull: pull.map(String::from),
        build,
        wait,
        wait_timeout: Some(Duration::from_secs(10)),
        parallel: None,
    }
}

/// Reports to the events, and once the last container started makes the
/// health check pass two looks later, so `--wait` sees `starting` first.
struct HealthyLater<'a> {
    engine: &'a Healthcheck<'a>,
    events: &'a Events,
    last: &'static str,
}

impl Reporter for HealthyLater<'_> {
    fn report(&self, event: Event) {
        if let Event::Resource(wharf_orchestrator::Event::Container {
            name,
            status: Status::Started,
        }) = &event
        {
            if name == self.last {
                let looks = self.engine.looks.load(Ordering::SeqCst);
                self.engine.healthy_after.store(looks + 2, Ordering::SeqCst);
            }
        }
        self.events.report(event);
    }
}

fn healthcheck(fake: &FakeEngine) -> Healthcheck<'_> {
    Healthcheck {
        inner: fake,
        looks: AtomicUsize::new(0),
        healthy_after: AtomicUsize::new(usize::MAX),
        passes: true,
    }
}

#[test]
fn up_pulls_what_is_missing_builds_and_waits_until_healthy() {
    let (_dir, project) = project(COMPOSE);
    let fake = FakeEngine::new();
    fake.add_image("cache:7");
    let engine = healthcheck(&fake);
    let images = MemoryImages::new(&fake, &["db:1"]);
    let events = Events::default();
    let reporter = HealthyLater {
        engine: &engine,
        events: &events,
        last: "shop-web-1",
    };
    let request = request(None, BuildPolicy::Missing, true);
    wharf_app::up::up(&engine, &images, &project, &request, &reporter).unwrap();
    // `db` was missing and pulled; `web` (buildable) was built, not pulled;
    // `cache` (`pull_policy: never`) was present and left alone.
    assert_eq!(images.log(), ["pull db:1", "build shop-web"]);
    assert_eq!(events.pulls(), ["db Pulling", "db Pulled"]);
    assert_eq!(
        fake.container_names(),
        ["shop-cache-1", "shop-db-1", "shop-web-1"]
    );
    // The wait saw `starting` before `healthy`.
    let healthy_at = engine.healthy_after.load(Ordering::SeqCst);
    assert!(engine.looks.load(Ordering::SeqCst) >= healthy_at);
    assert!(events.has_status("shop-db-1", &Status::Healthy));
}

#[test]
fn up_without_wait_does_not_wait_for_health() {
    let (_dir, project) = project(COMPOSE);
    let fake = FakeEngine::new();
    fake.add_image("cache:7");
    let engine = healthcheck(&fake);
    let images = MemoryImages::new(&fake, &["db:1"]);
    let events = Events::default();
    let request = request(None, BuildPolicy::Missing, false);
    wharf_app::up::up(&engine, &images, &project, &request, &events).unwrap();
    assert!(!events.has_status("shop-db-1", &Status::Healthy));
    assert_eq!(fake.container_names().len(), 3);
}

#[test]
fn wait_fails_on_an_unhealthy_container() {
    let (_dir, project) = project(COMPOSE);
    let fake = FakeEngine::new();
    fake.add_image("cache:7");
    let engine = Healthcheck {
        healthy_after: AtomicUsize::new(0),
        passes: false,
        ..healthcheck(&fake)
    };
    let images = MemoryImages::new(&fake, &["db:1"]);
    let request = request(None, BuildPolicy::Missing, true);
    let err =
        wharf_app::up::up(&engine, &images, &project, &request, &Events::default()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "container shop-db-1 is unhealthy: see why with wharf ps and wharf logs"
    );
}

#[test]
fn pull_always_pulls_images_that_are_present() {
    let (_dir, project) = project(COMPOSE);
    let fake = FakeEngine::new();
    fake.add_image("db:1");
    fake.add_image("cache:7");
    let images = MemoryImages::new(&fake, &["db:1", "cache:7"]);
    let events = Events::default();
    let request = request(Some("always"), BuildPolicy::Missing, false);
    wharf_app::up::up(&fake, &images, &project, &request, &events).unwrap();
    let mut log = images.log();
    log.sort();
    // `--pull always` overrides `pull_policy: never`; web is still built.
    assert_eq!(log, ["build shop-web", "pull cache:7", "pull db:1"]);
}

#[test]
fn pull_missing_skips_present_images() {
    let (_dir, project) = project(COMPOSE);
    let fake = FakeEngine::new();
    fake.add_image("db:1");
    fake.add_image("cache:7");
    fake.add_image("shop-web");
    let images = MemoryImages::new(&fake, &[]);
    let events = Events::default();
    let request = request(Some("missing"), BuildPolicy::Missing, false);
    wharf_app::up::up(&fake, &images, &project, &request, &events).unwrap();
    assert_eq!(images.log(), Vec::<String>::new());
    assert!(events.pulls().is_empty(), "{:?}", events.pulls());
    assert_eq!(fake.container_names().len(), 3);
}

#[test]
fn pull_never_leaves_a_missing_image_missing_and_creates_nothing() {
    let (_dir, project) = project(COMPOSE);
    let fake = FakeEngine::new();
    fake.add_image("cache:7");
    let images = MemoryImages::new(&fake, &["db:1"]);
    let request = request(Some("never"), BuildPolicy::Missing, false);
    let err =
        wharf_app::up::up(&fake, &images, &project, &request, &Events::default()).unwrap_err();
    assert!(err.to_string().contains("db:1"), "{err}");
    assert_eq!(images.log(), ["build shop-web"]);
    assert!(fake.containers().is_empty());
    assert!(fake.networks().is_empty());
}

#[test]
fn pull_policy_build_builds_instead_of_pulling() {
    let compose = "services:\n  api:\n    image: api:2\n    pull_policy: build\n    build: ./web\n";
    let (_dir, project) = project(compose);
    let fake = FakeEngine::new();
    let images = MemoryImages::new(&fake, &["api:2"]);
    let request = request(None, BuildPolicy::Missing, false);
    wharf_app::up::up(&fake, &images, &project, &request, &Events::default()).unwrap();
    assert_eq!(images.log(), ["build api:2"]);
    assert_eq!(fake.container_names(), ["shop-api-1"]);
}

#[test]
fn build_always_rebuilds_and_never_does_not_build() {
    let (_dir, project) = project(COMPOSE);
    let fake = FakeEngine::new();
    fake.add_image("db:1");
    fake.add_image("cache:7");
    fake.add_image("shop-web");
    let images = MemoryImages::new(&fake, &[]);
    let never = request(None, BuildPolicy::Never, false);
    wharf_app::up::up(&fake, &images, &project, &never, &Events::default()).unwrap();
    assert!(images.log().is_empty());
    let always = request(None, BuildPolicy::Always, false);
    wharf_app::up::up(&fake, &images, &project, &always, &Events::default()).unwrap();
    assert_eq!(images.log(), ["build shop-web"]);
}

#[test]
fn a_failed_pull_stops_up_before_anything_is_created() {
    let (_dir, project) = project(COMPOSE);
    let fake = FakeEngine::new();
    fake.add_image("cache:7");
    let images = MemoryImages::new(&fake, &[]);
    let events = Events::default();
    let request = request(None, BuildPolicy::Missing, false);
    let err = wharf_app::up::up(&fake, &images, &project, &request, &events).unwrap_err();
    assert!(matches!(err, AppError::Pull(_)), "{err:?}");
    assert_eq!(
        err.to_string(),
        "pulling db:1 for db: image \"db:1\" not found: the registry has no such image"
    );
    assert_eq!(
        events.pulls(),
        [
            "db Pulling".to_string(),
            format!("db Failed({:?})", err.to_string())
        ]
    );
    // Nothing was built or created.
    assert_eq!(images.log(), ["pull db:1"]);
    assert!(fake.containers().is_empty());
}

#[test]
fn a_failed_up_rolls_back_what_it_created() {
    let (_dir, project) = project(COMPOSE);
    let fake = FakeEngine::new();
    fake.add_image("cache:7");
    let images = MemoryImages::new(&fake, &["db:1"]);
    fake.fail_next(
        "start_container",
        "shop-web-1",
        EngineError::Unavailable("port 8080 is already in use".into()),
    );
    let events = Events::default();
    let request = request(None, BuildPolicy::Missing, true);
    let err = wharf_app::up::up(&fake, &images, &project, &request, &events).unwrap_err();
    assert_eq!(
        err.to_string(),
        "container shop-web-1: port 8080 is already in use"
    );
    assert!(fake.containers().is_empty(), "{:?}", fake.container_names());
    assert!(fake.networks().is_empty());
    // The images pulled and built stay; the wait never began.
    assert!(matches!(fake.image_inspect("shop-web"), Ok(Some(_))));
    assert!(!events.has_status("shop-db-1", &Status::Healthy));
}

#[test]
fn a_failed_recreate_keeps_the_old_container_running() {
    let (_dir, project) = project(COMPOSE);
    let fake = FakeEngine::new();
    fake.add_image("cache:7");
    let images = MemoryImages::new(&fake, &["db:1"]);
    let quick = request(None, BuildPolicy::Missing, false);
    wharf_app::up::up(&fake, &images, &project, &quick, &Events::default()).unwrap();
    let old = fake.container("shop-cache-1").unwrap().id;
    fake.fail_next(
        "start_container",
        "shop-cache-1",
        EngineError::Invalid("no such file: redis-server".into()),
    );
    let mut forced = quick.clone();
    forced.options.force_recreate = true;
    forced.options.services = vec!["cache".into()];
    wharf_app::up::up(&fake, &images, &project, &forced, &Events::default()).unwrap_err();
    let cache = fake.container("shop-cache-1").unwrap();
    assert_eq!(cache.id, old);
    assert!(cache.state.is_running());
    assert_eq!(
        fake.container_names(),
        ["shop-cache-1", "shop-db-1", "shop-web-1"]
    );
}

#[test]
fn push_sends_each_named_image_once() {
    let compose =
        "services:\n  a:\n    image: app:1\n  b:\n    image: app:1\n  c:\n    build: ./web\n";
    let (_dir, project) = project(compose);
    let fake = FakeEngine::new();
    let images = MemoryImages::new(&fake, &[]);
    let request = wharf_app::push::PushRequest::default();
    wharf_app::push::push_images(&images, &project, &request, &Events::default()).unwrap();
    assert_eq!(images.log(), ["push app:1"]);
}
