//! Every governed chain parameter as `GET /v1/params` serves it
//! (`plexus_state::governance::registry`): its value at the last finalized height and the
//! bounds a governance proposal must keep it within.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use utoipa::ToSchema;

/// One parameter. Decimal strings, as amounts are elsewhere: some are amounts in base units,
/// beyond JSON's exact integers.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
pub struct ParamDto {
    pub value: String,
    /// The least a proposal may set it to.
    pub min: String,
    /// The most a proposal may set it to.
    pub max: String,
}

/// Every governed parameter by section (`chain`, `audit`, `storage`) and name; a proposal
/// names one as `section.name`.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
pub struct ParamsDto {
    /// The finalized height the values are read at.
    pub height: u64,
    pub sections: BTreeMap<String, BTreeMap<String, ParamDto>>,
}
