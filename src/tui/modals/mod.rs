//! The dialogs. Each owns its state, handles its keys, draws itself and names its footer
//! keys; what it decides goes back to the app as an `Effect`.

pub(crate) mod batch_form;
pub(crate) mod confirm;
pub(crate) mod crl;
pub(crate) mod export;
pub(crate) mod generate;
pub(crate) mod generations;
pub(crate) mod message;
pub(crate) mod operator;
pub(crate) mod prompt;
pub(crate) mod revoke;
pub(crate) mod root;
pub(crate) mod witness;
