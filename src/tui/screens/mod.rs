//! One module per screen: its state, what its keys do, and how it is drawn.

pub(crate) mod batch;
pub(crate) mod certs;
pub(crate) mod crl;
pub(crate) mod inbox;
pub(crate) mod ledger;
pub(crate) mod overview;
pub(crate) mod unlock;
