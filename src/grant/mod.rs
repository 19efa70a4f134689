//! Grant: `lapse grant` issues self-ending access (request → approval → provisioning), the
//! first half of the lifecycle whose second half is `revoke`.

pub mod ttl;
