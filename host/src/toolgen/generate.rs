//! `claw tool generate`: rounds of LLM answer → checked proposal → offline
//! build → conformance checks → examples, each failure going back to the
//! LLM, until a tool passes (then it waits for the operator) or the rounds
//! run out.

use super::{Builder, Outcome, Proposal, Review, pending, prompt, review};
use crate::components::World;
use crate::home::Home;
use crate::llm::ChatRequest;
use crate::problem::Problem;
use crate::runtime::Runtime;
use std::time::{Duration, Instant};

/// Rounds when the operator names none.
pub const DEFAULT_ROUNDS: u32 = 3;

/// One step of a generation, as it happens (for progress).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// Round `round` of `rounds`: the request is with the LLM.
    Asking {
        /// This round, from 1.
        round: u32,
        /// The most there will be.
        rounds: u32,
    },
    /// cargo is building the answer.
    Building,
    /// The built component is being checked and its examples run.
    Checking,
    /// This round's answer failed `stage`; `problem` goes back to the LLM.
    Rejected {
        /// Which check refused it: the answer, the build, the
        /// conformance checks, the examples.
        stage: &'static str,
        /// Its first line, for the operator.
        problem: String,
    },
}

/// What a generation needs.
pub struct Generator<'a> {
    /// Where the LLM and the checks run.
    pub runtime: &'a Runtime,
    /// How the source is built.
    pub builder: Builder,
    /// The most LLM rounds.
    pub rounds: u32,
}

/// Who asked for what, in which round.
struct Asked<'a> {
    name: &'a str,
    request: &'a str,
    asked_by: &'a str,
    round: u32,
}

/// What one round came to.
enum Round {
    /// It passed: the review, the component, the grant and source.
    Passed(Box<(Review, Vec<u8>, Proposal)>),
    /// It failed at `stage`; `problem` is for the LLM.
    Failed { stage: &'static str, problem: String },
}

impl Generator<'_> {
    /// Generate the tool `name` for `request` (asked by `asked_by`) and
    /// keep it for the operator's approval; nothing is installed.
    ///
    /// # Errors
    ///
    /// When the LLM cannot be reached, cargo cannot start, or no round
    /// passed (with the last round's problem).
    pub async fn generate(
        &self,
        name: &str,
        request: &str,
        asked_by: &str,
        progress: &(dyn Fn(Event) + Sync),
    ) -> Result<pending::Pending, Problem> {
        if !crate::grant::valid_name(name) {
            return Err(Problem::new(format!("`{name}` is not a valid tool name"))
                .hint("names use letters, digits, `-` and `_` (pass --name NAME)"));
        }
        let installed = self.runtime.store().index().map_err(|e| Problem::new(format!("{e:#}")))?;
        if installed.components.contains_key(name) {
            return Err(Problem::new(format!("a component named `{name}` is already installed"))
                .hint("pick another --name, or `claw component remove` it first"));
        }
        let home = self.runtime.home();
        let started = Instant::now();
        let providers: Vec<_> = crate::llm::Providers::load(home)
            .map_err(|e| Problem::new(format!("{e:#}")))?
            .list
            .iter()
            .map(crate::llm::Provider::to_wire)
            .collect();
        let mut messages = prompt::first(name, request);
        let mut build_time = Duration::ZERO;
        let mut last = String::new();
        for round in 1..=self.rounds {
            progress(Event::Asking { round, rounds: self.rounds });
            let mut ask = ChatRequest {
                messages: messages.clone(),
                tools: Vec::new(),
                providers: providers.clone(),
                model: None,
                max_tokens: None,
                stream: false,
            };
            crate::agent::redact::Redactions::request(self.runtime.boundary(), &mut ask.messages);
            let answer = self.runtime.complete(&ask).await.map_err(|e| {
                let p = Problem::new(format!("generating {name}: {e}"));
                match e.hint() {
                    Some(h) => p.hint(h),
                    None => p,
                }
            })?;
            let asked = Asked { name, request, asked_by, round };
            match self.round(home, &asked, &answer.text, progress, &mut build_time).await? {
                Round::Passed(passed) => {
                    let (mut review, wasm, proposal) = *passed;
                    review.build_ms = build_time.as_millis() as u64;
                    review.total_ms = started.elapsed().as_millis() as u64;
                    return pending::save(home, &review, &wasm, &proposal.grant, &proposal.source);
                }
                Round::Failed { stage, problem } => {
                    progress(Event::Rejected {
                        stage,
                        problem: problem.lines().next().unwrap_or_default().to_string(),
                    });
                    prompt::retry(&mut messages, &answer.text, stage, &problem);
                    last = format!("{stage}: {problem}");
                }
            }
        }
        let first_line = last.lines().next().unwrap_or_default().to_string();
        Err(Problem::new(format!(
            "no tool `{name}` after {} round{}: the last answer failed {first_line}",
            self.rounds,
            if self.rounds == 1 { "" } else { "s" }
        ))
        .hint("describe the tool more precisely, or allow more rounds with --rounds N; nothing was installed"))
    }

    /// One answer through every check.
    async fn round(
        &self,
        home: &Home,
        asked: &Asked<'_>,
        answer: &str,
        progress: &(dyn Fn(Event) + Sync),
        build_time: &mut Duration,
    ) -> Result<Round, Problem> {
        let (name, round) = (asked.name, asked.round);
        let failed = |stage, problem: String| Ok(Round::Failed { stage, problem });
        let proposal = match Proposal::parse(answer) {
            Ok(p) => p,
            Err(e) => return failed("the answer's checks", e.message),
        };
        progress(Event::Building);
        let dir = home.data.join("toolgen/work").join(format!("{name}-{}-{round}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        self.builder.write_project(&dir, name, &proposal.source)?;
        let built = self.builder.build(&dir, name).await;
        let _ = std::fs::remove_dir_all(&dir);
        let wasm = match built? {
            Outcome::Built { wasm, took } => {
                *build_time += took;
                wasm
            }
            Outcome::Failed { errors } => return failed("the build", errors),
            Outcome::TimedOut => {
                return failed(
                    "the build",
                    format!("the build ran past {} s and was stopped: write less code", self.builder.timeout.as_secs()),
                );
            }
        };
        progress(Event::Checking);
        let grant_source = "the grant it asks for".to_string();
        let prepared = match self
            .runtime
            .prepare(name, "the generated component", wasm.clone(), proposal.grant.clone(), grant_source, || {})
            .await
        {
            Ok(p) => p,
            Err(e) => return failed("the conformance checks", problem_text(&e)),
        };
        let record = &prepared.tool.record;
        if record.world != World::Tool {
            return failed(
                "the conformance checks",
                format!("the component is a {} component, not a tool: use export_tool!", record.world.wit_name()),
            );
        }
        let mut misses = Vec::new();
        for (i, example) in proposal.examples.iter().enumerate() {
            let got = self.runtime.trial(&prepared, &example.params.to_string()).await.map_err(|e| e.to_string());
            if let Err(miss) = example.check(&got) {
                misses.push(format!("example {} ({}): {miss}", i + 1, example.params));
            }
        }
        if !misses.is_empty() {
            return failed("the examples", misses.join("\n"));
        }
        let (files, uses) = review::summarize(&proposal.source);
        let policy = crate::grant::explain(&prepared.tool.grant, &record.imports);
        let review = Review {
            name: name.to_string(),
            request: asked.request.to_string(),
            description: record.description.clone(),
            schema: record.schema.clone(),
            digest: record.digest.to_string(),
            files,
            uses,
            imports: record.imports.clone(),
            policy,
            unjustified: review::unjustified(asked.request, &prepared.tool.grant),
            rounds: round,
            // Filled in by the caller, which times the whole generation.
            build_ms: 0,
            total_ms: 0,
            asked_by: asked.asked_by.to_string(),
        };
        Ok(Round::Passed(Box::new((review, wasm, proposal))))
    }
}

/// An error and its hint as one text, for the LLM.
fn problem_text(e: &anyhow::Error) -> String {
    let mut text = format!("{e:#}");
    if let Some(hint) = e.downcast_ref::<Problem>().and_then(Problem::hint_text) {
        text.push_str("\nhint: ");
        text.push_str(hint);
    }
    text
}
