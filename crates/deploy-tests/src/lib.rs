//! Nothing to link: this crate exists for its tests/, which validate the deployment manifests.
