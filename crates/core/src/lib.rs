//! prow-core: the kube-free domain of prow-rs (ProwJob types, Prow config, job selection, events).

pub mod events;
pub mod prowjob;
pub mod jobspec;
