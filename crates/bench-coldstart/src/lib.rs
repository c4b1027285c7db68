//! Holds the baseline binary (`axum-hello`) and the `cold_start` benchmark; see benches/cold_start.rs.
