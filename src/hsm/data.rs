//! The vault's private data objects (CKO_DATA, CKA_TOKEN, CKA_PRIVATE, application
//! "rootvault"): the token-held ledger state lives in one.

use cryptoki::error::{Error as CkError, RvError};
use cryptoki::object::{Attribute, AttributeType, ObjectClass, ObjectHandle};

use super::{HsmError, UserSession};

/// CKA_APPLICATION of every data object the vault keeps on a token.
pub const DATA_APPLICATION: &str = "rootvault";

/// The attributes that identify one of the vault's data objects. CKA_PRIVATE is part of the
/// search: anyone can create a *public* object with the same label without the PIN, and such
/// a look-alike must never be read as the vault's state.
pub(super) fn data_object_template(label: &str) -> Vec<Attribute> {
    vec![
        Attribute::Class(ObjectClass::DATA),
        Attribute::Token(true),
        Attribute::Private(true),
        Attribute::Application(DATA_APPLICATION.as_bytes().to_vec()),
        Attribute::Label(label.as_bytes().to_vec()),
    ]
}

impl UserSession {
    /// The value of the vault's private data object labelled `label` (CKO_DATA, CKA_TOKEN,
    /// CKA_PRIVATE, CKA_APPLICATION "rootvault"), or `None` if the token has none. Public
    /// objects with the same label are ignored; two private ones are an error.
    pub fn read_data_object(&self, label: &str) -> Result<Option<Vec<u8>>, HsmError> {
        let Some(handle) = self.find_data_object(label)? else {
            return Ok(None);
        };
        self.data_value(handle).map(Some)
    }

    /// Stores `value` in the private data object labelled `label`: creates it if absent,
    /// else replaces its CKA_VALUE. A module that refuses to modify the value gets a new
    /// object first and the old one destroyed after, so an interruption leaves two objects
    /// (reported as [`HsmError::DataObjectDuplicate`]) and never none. The value is read
    /// back before this returns.
    pub fn write_data_object(&self, label: &str, value: &[u8]) -> Result<(), HsmError> {
        let handle = match self.find_data_object(label)? {
            None => self.create_data_object(label, value)?,
            // In tests, an injected failure at `hsm.set_value` stands in for a module that
            // refuses (none tested here does).
            Some(old) => match if crate::fault::check("hsm.set_value").is_err() {
                Err(CkError::Pkcs11(
                    RvError::ActionProhibited,
                    cryptoki::context::Function::SetAttributeValue,
                ))
            } else {
                self.session
                    .update_attributes(old, &[Attribute::Value(value.to_vec())])
            } {
                Ok(()) => old,
                Err(CkError::Pkcs11(
                    RvError::AttributeReadOnly
                    | RvError::ActionProhibited
                    | RvError::FunctionNotSupported
                    | RvError::TemplateInconsistent,
                    _,
                )) => {
                    let new = self.create_data_object(label, value)?;
                    if let Err(e) = self.session.destroy_object(old) {
                        let _ = self.session.destroy_object(new);
                        return Err(HsmError::call("C_DestroyObject")(e));
                    }
                    new
                }
                Err(e) => return Err(HsmError::call("C_SetAttributeValue")(e)),
            },
        };
        if self.data_value(handle)? != value {
            return Err(HsmError::Pkcs11 {
                op: "writing a data object",
                detail: format!("the token kept another value than was written to {label:?}"),
            });
        }
        Ok(())
    }

    /// Destroys the private data object(s) labelled `label`; whether there was any.
    pub fn destroy_data_object(&self, label: &str) -> Result<bool, HsmError> {
        let found = self.find(&data_object_template(label))?;
        for handle in &found {
            self.session
                .destroy_object(*handle)
                .map_err(HsmError::call("C_DestroyObject"))?;
        }
        Ok(!found.is_empty())
    }

    fn find_data_object(&self, label: &str) -> Result<Option<ObjectHandle>, HsmError> {
        match self.find(&data_object_template(label))?.as_slice() {
            [] => Ok(None),
            [one] => Ok(Some(*one)),
            many => Err(HsmError::DataObjectDuplicate {
                label: label.to_owned(),
                count: many.len(),
            }),
        }
    }

    fn create_data_object(&self, label: &str, value: &[u8]) -> Result<ObjectHandle, HsmError> {
        let mut template = data_object_template(label);
        template.push(Attribute::Modifiable(true));
        template.push(Attribute::Value(value.to_vec()));
        // In tests, an injected failure at `hsm.create_object` stands in for a module without
        // private data objects (none tested here lacks them).
        let created = if crate::fault::check("hsm.create_object").is_err() {
            Err(CkError::Pkcs11(
                RvError::TemplateInconsistent,
                cryptoki::context::Function::CreateObject,
            ))
        } else {
            self.session.create_object(&template)
        };
        created.map_err(|e| match e {
            CkError::Pkcs11(
                rv @ (RvError::TemplateInconsistent
                | RvError::TemplateIncomplete
                | RvError::AttributeTypeInvalid
                | RvError::AttributeValueInvalid
                | RvError::FunctionNotSupported),
                _,
            ) => HsmError::DataObjectsUnsupported {
                detail: format!("C_CreateObject of a private CKO_DATA object answered {rv:?}"),
            },
            e => HsmError::call("C_CreateObject")(e),
        })
    }

    fn data_value(&self, handle: ObjectHandle) -> Result<Vec<u8>, HsmError> {
        let attrs = self
            .session
            .get_attributes(handle, &[AttributeType::Value])
            .map_err(HsmError::call("C_GetAttributeValue"))?;
        attrs
            .into_iter()
            .find_map(|a| match a {
                Attribute::Value(v) => Some(v),
                _ => None,
            })
            .ok_or_else(|| HsmError::Pkcs11 {
                op: "reading a data object",
                detail: "the module returned no CKA_VALUE".into(),
            })
    }
}
