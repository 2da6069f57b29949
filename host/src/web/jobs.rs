//! Syncs and imports started from the web admin: each runs as a background task (holding the
//! account's lock, like `pcosync sync` and `pcosync import`), its progress kept here for its
//! page, which polls it (`/jobs/ID/progress`). A job can be stopped; an import stopped goes on
//! where it stopped when run again (R42).

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use axum::Extension;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Json, Redirect, Response};
use maud::html;

use super::auth::{FlashKind, Sess};
use super::html::{self, Layout, Section, account_url, csrf, post_button};
use super::pages::report_view;
use super::{App, WebError};
use crate::bindings::engine::Report;
use crate::bindings::log::Level;
use crate::log::{Reporter, TracingReporter};
use crate::ops::Session;
use crate::ops::runs::{self, SyncRequest};

/// How many of the guest's notes a job keeps.
const EVENTS_KEPT: usize = 30;
/// How many finished jobs are remembered.
const JOBS_KEPT: usize = 50;

#[derive(Clone, Debug)]
pub(crate) enum JobKind {
    Sync(SyncRequest),
    Import { dry_run: bool },
}

impl JobKind {
    pub fn title(&self) -> &'static str {
        match self {
            JobKind::Sync(r) if r.dry_run => "Dry run",
            JobKind::Sync(r) if r.confirm.is_some() => "Confirmed sync",
            JobKind::Sync(_) => "Sync",
            JobKind::Import { dry_run: true } => "Import dry run",
            JobKind::Import { dry_run: false } => "Import",
        }
    }
}

#[derive(Clone, Debug, Default)]
pub(crate) struct Progress {
    pub task: String,
    pub done: u64,
    pub total: Option<u64>,
}

#[derive(Clone, Debug)]
pub(crate) enum Outcome {
    Running,
    Finished(Box<Report>),
    Failed(String),
    Stopped,
}

impl Outcome {
    fn word(&self) -> &'static str {
        match self {
            Outcome::Running => "running",
            Outcome::Finished(_) => "finished",
            Outcome::Failed(_) => "failed",
            Outcome::Stopped => "stopped",
        }
    }
}

struct JobState {
    progress: Option<Progress>,
    events: VecDeque<String>,
    outcome: Outcome,
}

pub(crate) struct Job {
    pub id: String,
    pub account: String,
    pub kind: JobKind,
    pub started_at: String,
    state: Mutex<JobState>,
    abort: Mutex<Option<tokio::task::AbortHandle>>,
}

impl Job {
    fn state(&self) -> std::sync::MutexGuard<'_, JobState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn running(&self) -> bool {
        matches!(self.state().outcome, Outcome::Running)
    }

    fn finish(&self, outcome: Outcome) {
        let mut state = self.state();
        if matches!(state.outcome, Outcome::Running) {
            state.outcome = outcome;
        }
    }

    fn progress_text(progress: &Option<Progress>, outcome: &Outcome) -> String {
        let mut text = match progress {
            Some(Progress {
                task,
                done,
                total: Some(total),
            }) => format!("{task}: {done} of {total}"),
            Some(Progress {
                task,
                done,
                total: None,
            }) => format!("{task}: {done}"),
            None => "starting…".into(),
        };
        match outcome {
            Outcome::Running => {}
            Outcome::Finished(_) => text.push_str(" · finished"),
            Outcome::Failed(_) => text.push_str(" · failed"),
            Outcome::Stopped => text.push_str(" · stopped"),
        }
        text
    }
}

/// The guest's progress and notes, kept for the job's page (and logged as usual).
struct JobReporter(Arc<Job>);

impl Reporter for JobReporter {
    fn event(&self, level: Level, message: &str, fields: &[(String, String)]) {
        TracingReporter.event(level, message, fields);
        if matches!(level, Level::Warn | Level::Error) {
            // R53: the guest names people by id only.
            let mut state = self.0.state();
            if state.events.len() >= EVENTS_KEPT {
                state.events.pop_front();
            }
            state.events.push_back(message.to_string());
        }
    }

    fn progress(&self, task: &str, done: u64, total: Option<u64>) {
        self.0.state().progress = Some(Progress {
            task: task.to_string(),
            done,
            total,
        });
    }
}

#[derive(Default)]
pub(crate) struct Jobs {
    jobs: Mutex<HashMap<String, Arc<Job>>>,
}

impl Jobs {
    fn all(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<Job>>> {
        self.jobs.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn get(&self, id: &str) -> Option<Arc<Job>> {
        self.all().get(id).cloned()
    }

    /// The job running for `account`, if any.
    pub fn running_for(&self, account: &str) -> Option<Arc<Job>> {
        self.all()
            .values()
            .find(|j| j.account == account && j.running())
            .cloned()
    }

    /// The jobs of `account`, newest first.
    pub fn of(&self, account: &str) -> Vec<Arc<Job>> {
        let mut jobs: Vec<Arc<Job>> = self
            .all()
            .values()
            .filter(|j| j.account == account)
            .cloned()
            .collect();
        jobs.sort_by(|a, b| b.started_at.cmp(&a.started_at));
        jobs
    }

    fn insert(&self, job: Arc<Job>) {
        let mut jobs = self.all();
        if jobs.len() >= JOBS_KEPT {
            let mut finished: Vec<(String, String)> = jobs
                .values()
                .filter(|j| !j.running())
                .map(|j| (j.started_at.clone(), j.id.clone()))
                .collect();
            finished.sort();
            for (_, id) in finished.iter().take(jobs.len() + 1 - JOBS_KEPT) {
                jobs.remove(id);
            }
        }
        jobs.insert(job.id.clone(), job);
    }
}

/// Starts a sync or an import of `account` in the background; the job's page follows it. A
/// second job of the same account while one runs is refused (the account's lock would refuse
/// it anyway).
pub(crate) fn start(app: &Arc<App>, account: &str, kind: JobKind) -> Result<Arc<Job>, Arc<Job>> {
    if let Some(running) = app.jobs.running_for(account) {
        return Err(running);
    }
    let job = Arc::new(Job {
        id: hex::encode(rand::random::<[u8; 12]>()),
        account: account.to_string(),
        kind,
        started_at: crate::cli::now_rfc3339(),
        state: Mutex::new(JobState {
            progress: None,
            events: VecDeque::new(),
            outcome: Outcome::Running,
        }),
        abort: Mutex::new(None),
    });
    app.jobs.insert(job.clone());
    let task = {
        let (app, job) = (app.clone(), job.clone());
        tokio::spawn(async move {
            let outcome = match execute(&app, &job).await {
                Ok(report) => Outcome::Finished(Box::new(report)),
                Err(message) => Outcome::Failed(message),
            };
            job.finish(outcome);
        })
    };
    *job.abort.lock().unwrap_or_else(|p| p.into_inner()) = Some(task.abort_handle());
    // A run that panicked is a failed run, not one running forever.
    let watched = job.clone();
    tokio::spawn(async move {
        if let Err(error) = task.await
            && error.is_panic()
        {
            watched.finish(Outcome::Failed(
                "the run crashed in the host; what it committed before stays".into(),
            ));
        }
    });
    Ok(job)
}

/// The run itself: the same operation `pcosync sync` or `pcosync import` carries out.
async fn execute(app: &App, job: &Arc<Job>) -> Result<Report, String> {
    let config = app.config().map_err(|e| e.message)?;
    let account = config.account(&job.account)?;
    let import = match &job.kind {
        JobKind::Import { dry_run } => Some(runs::import_options(account, *dry_run)?),
        JobKind::Sync(_) => None,
    };
    let mut session = Session::open(&config, &app.data_dir, account)
        .await
        .map_err(|e| format!("{e:#}"))?;
    session.report_to(Arc::new(JobReporter(job.clone())));
    // The lock lives in the session's own state connection, so each commit checks it in the
    // same transaction as its writes.
    let locks = session.locks.clone();
    let result = match (&job.kind, import) {
        (JobKind::Sync(request), _) => {
            runs::sync(&session, locks, account, request, "pcosync serve").await
        }
        (JobKind::Import { .. }, Some(options)) => {
            runs::import(&session, locks, account, &options, "pcosync serve").await
        }
        (JobKind::Import { .. }, None) => unreachable!("import options are made above"),
    };
    result.map_err(|e| e.to_string())
}

fn find(app: &App, id: &str) -> Result<Arc<Job>, WebError> {
    app.jobs.get(id).ok_or_else(|| {
        WebError::new(
            StatusCode::NOT_FOUND,
            "There is no such run here (runs started before pcosync serve last started are in the account's run history).",
        )
    })
}

/// Where the browser goes to follow a job.
pub(crate) fn url(job: &Job) -> String {
    format!("/jobs/{}", job.id)
}

/// The job's page: live progress while it runs, then its report.
pub(crate) async fn page(
    State(app): State<Arc<App>>,
    Extension(sess): Extension<Sess>,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    let job = find(&app, &id)?;
    let (progress, events, outcome) = {
        let state = job.state();
        (
            state.progress.clone(),
            state.events.iter().cloned().collect::<Vec<_>>(),
            state.outcome.clone(),
        )
    };
    let running = matches!(outcome, Outcome::Running);
    let text = Job::progress_text(&progress, &outcome);
    let (done, total) = match (&progress, &outcome) {
        (Some(p), _) => (p.done, p.total),
        (None, Outcome::Finished(_)) => (1, Some(1)),
        (None, _) => (0, None),
    };
    let is_import = matches!(job.kind, JobKind::Import { .. });
    let body = html! {
        div #job data-state=(outcome.word()) data-progress-url=(format!("/jobs/{}/progress", job.id)) {
            dl.facts {
                dt { "Account" } dd { a href=(account_url(&job.account, "")) { (job.account) } }
                dt { "Started" } dd { (crate::ops::text::time_text(&job.started_at)) }
                dt { "State" } dd #job-state {
                    @match &outcome {
                        Outcome::Running => span.badge { "running" },
                        Outcome::Finished(r) if r.held => span.badge.warn { "held by the safety brake" },
                        Outcome::Finished(r) if r.counts.failed > 0 => span.badge.warn { "finished, some people failed" },
                        Outcome::Finished(_) => span.badge.ok { "finished" },
                        Outcome::Failed(_) => span.badge.bad { "failed" },
                        Outcome::Stopped => span.badge.warn { "stopped" },
                    }
                }
            }
            (html::progress(done, total, &text))
            @if running {
                (post_button(&sess, &format!("/jobs/{}/stop", job.id), "Stop", "secondary"))
                p.hint { "Stopping keeps what was already written. "
                    @if is_import { "Run the import again to go on where it stopped; nobody is imported twice." }
                    @else { "The next sync picks up from there." } }
            }
            @if let Outcome::Failed(message) = &outcome {
                div.flash.error role="alert" { pre.message { (message) } }
                @if is_import {
                    p { "Run the import again to go on where it stopped; nobody is imported twice." }
                }
            }
            @if let Outcome::Stopped = &outcome {
                div.flash.warn role="status" {
                    "Stopped by an administrator. What was written before stays."
                    @if is_import { " Run the import again to go on where it stopped; nobody is imported twice." }
                }
                @if is_import {
                    form method="post" action=(account_url(&job.account, "/import")) {
                        (csrf(&sess))
                        button type="submit" { "Resume the import" }
                    }
                }
            }
            @if !events.is_empty() {
                h2 { "Notes from the run" }
                ul { @for event in &events { li { (event) } } }
            }
            @if let Outcome::Finished(report) = &outcome {
                @if report.held {
                    div.warning-box role="alert" {
                        p { strong { "The safety brake held this run: nothing was written." }
                            " It would change more of the account's people than its brake allows. Review what it would do below; if it is right, confirm it." }
                        form method="post" action=(account_url(&job.account, "/sync")) {
                            (csrf(&sess))
                            input type="hidden" name="mode" value="sync";
                            input type="hidden" name="confirm" value=(report.run_id);
                            button.danger type="submit" { "Confirm run " (report.run_id) }
                        }
                    }
                }
                h2 { "Report" }
                (report_view(&job.account, report))
            }
        }
        p { a href=(account_url(&job.account, "")) { "Back to " (job.account) } }
    };
    let flash = app.auth.take_flash(&sess);
    Ok(html::page(
        Layout {
            title: format!("{} of {}", job.kind.title(), job.account),
            sess: &sess,
            flash,
            account: Some(&job.account),
            section: Section::Job,
            auto_refresh: running,
        },
        body,
    ))
}

/// The job's progress, for the page's script.
pub(crate) async fn progress(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    let job = find(&app, &id)?;
    let state = job.state();
    let text = Job::progress_text(&state.progress, &state.outcome);
    let (done, total, task) = match &state.progress {
        Some(p) => (p.done, p.total, p.task.clone()),
        None => (0, None, String::new()),
    };
    Ok(Json(serde_json::json!({
        "state": state.outcome.word(),
        "task": task,
        "done": done,
        "total": total,
        "text": text,
    }))
    .into_response())
}

/// Stops a running job: what it committed stays (R42).
pub(crate) async fn stop(
    State(app): State<Arc<App>>,
    Extension(sess): Extension<Sess>,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    let job = find(&app, &id)?;
    if job.running() {
        if let Some(abort) = job.abort.lock().unwrap_or_else(|p| p.into_inner()).take() {
            abort.abort();
        }
        job.finish(Outcome::Stopped);
        app.auth.flash(
            &sess,
            FlashKind::Warn,
            format!("{} stopped.", job.kind.title()),
        );
    }
    Ok(Redirect::to(&url(&job)).into_response())
}
