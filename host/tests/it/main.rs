//! The host's integration tests: one binary (linking wasmtime once),
//! one module per area. Components come from `scripts/dev components`.

mod common;
mod conformance;
mod db;
mod dns_server;
mod oci_registry;

mod agent;
mod api;
mod approvals;
mod audit_cli;
mod bad_input;
mod bot_api;
mod boundary;
mod cache;
mod catalogue;
mod channels;
mod cli;
mod dataflow;
mod deny_stubs;
mod egress;
mod embedder;
mod hot_swap;
mod invoke;
mod jobs;
mod llm_server;
mod mcp;
mod mcp_conformance;
mod mcp_http;
mod memory;
mod network;
mod new_tool;
mod registry;
mod routines;
mod sandbox;
mod scale_out;
mod secrets_cli;
mod sessions;
mod slack;
mod slack_web;
mod store;
mod streaming;
mod telegram;
mod toolgen;
mod web_chat;
mod webhook_channel;
