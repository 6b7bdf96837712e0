//! The one encoding of a record whose fields are each written in order with their own codec:
//! the snapshot's records and the storage market's share it.

/// Implements `Write`, `EncodeSize` and `Read` for a record whose fields are encoded in order,
/// each with its own codec (the caller imports the codec traits).
macro_rules! fixed_record {
    ($ty:ty { $($field:ident : $kind:ty),* $(,)? }) => {
        impl Write for $ty {
            fn write(&self, buf: &mut impl BufMut) {
                $(self.$field.write(buf);)*
            }
        }

        impl EncodeSize for $ty {
            fn encode_size(&self) -> usize {
                0 $(+ self.$field.encode_size())*
            }
        }

        impl Read for $ty {
            type Cfg = ();

            fn read_cfg(buf: &mut impl Buf, _: &()) -> Result<Self, Error> {
                Ok(Self { $($field: <$kind>::read(buf)?),* })
            }
        }
    };
}

pub(crate) use fixed_record;
