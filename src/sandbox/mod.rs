//! The sandbox: a small Kubernetes API server that runs inside Greenlight's own process, for
//! trying the whole journey without a cluster (`greenlight demo`) and for the test suite.

pub mod apiserver;
