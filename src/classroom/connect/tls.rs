//! TLS to the hub, with libpq's `sslmode` meanings: `prefer` and `require` encrypt without
//! checking who answers (so a `require` with no root certificate stops eavesdroppers, not
//! impostors), `verify-ca` checks the certificate chain, `verify-full` also the host name.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::{ClientConfig, WebPkiServerVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, RootCertStore, SignatureScheme};
use tokio_postgres::config::SslMode;
use tokio_postgres_rustls::MakeRustlsConnect;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TlsMode {
    Disable,
    Prefer,
    Require,
    VerifyCa,
    VerifyFull,
}

impl TlsMode {
    pub fn parse(value: &str) -> Result<TlsMode, String> {
        match value {
            "disable" => Ok(TlsMode::Disable),
            // libpq's `allow` tries plain first; encrypting when the server can is no worse.
            "allow" | "prefer" => Ok(TlsMode::Prefer),
            "require" => Ok(TlsMode::Require),
            "verify-ca" => Ok(TlsMode::VerifyCa),
            "verify-full" => Ok(TlsMode::VerifyFull),
            other => Err(format!(
                "sslmode={other} is not a TLS mode: use disable, prefer, require, verify-ca or verify-full"
            )),
        }
    }

    /// What tokio-postgres is told: it only negotiates; verifying is the connector's job.
    pub fn wire(self) -> SslMode {
        match self {
            TlsMode::Disable => SslMode::Disable,
            TlsMode::Prefer => SslMode::Prefer,
            TlsMode::Require | TlsMode::VerifyCa | TlsMode::VerifyFull => SslMode::Require,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            TlsMode::Disable => "disable",
            TlsMode::Prefer => "prefer",
            TlsMode::Require => "require",
            TlsMode::VerifyCa => "verify-ca",
            TlsMode::VerifyFull => "verify-full",
        }
    }
}

/// Where the certificates that vouch for the hub come from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Roots {
    File(PathBuf),
    /// `sslrootcert=system`, or nothing given and no `~/.postgresql/root.crt`.
    System,
}

impl Roots {
    /// As libpq: the named file, `system`, else `~/.postgresql/root.crt` when there is one.
    pub fn from_param(value: Option<&str>) -> Roots {
        match value {
            Some("system") => Roots::System,
            Some(path) => Roots::File(PathBuf::from(path)),
            None => std::env::var_os("HOME")
                .map(|h| Path::new(&h).join(".postgresql/root.crt"))
                .filter(|p| p.is_file())
                .map_or(Roots::System, Roots::File),
        }
    }
}

pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The connector for `mode`; `None` for `disable`.
pub fn connector(mode: TlsMode, roots: &Roots) -> Result<Option<MakeRustlsConnect>, String> {
    let provider = provider();
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS is not usable here: {e}"))?;
    let verifier: Arc<dyn ServerCertVerifier> = match mode {
        TlsMode::Disable => return Ok(None),
        TlsMode::Prefer | TlsMode::Require => Arc::new(AcceptAny(provider)),
        TlsMode::VerifyCa => Arc::new(ChainOnly(webpki(roots, &provider)?)),
        TlsMode::VerifyFull => webpki(roots, &provider)?,
    };
    let config = builder
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    Ok(Some(MakeRustlsConnect::new(config)))
}

fn webpki(
    roots: &Roots,
    provider: &Arc<CryptoProvider>,
) -> Result<Arc<WebPkiServerVerifier>, String> {
    let store = Arc::new(root_store(roots)?);
    WebPkiServerVerifier::builder_with_provider(store, provider.clone())
        .build()
        .map_err(|e| format!("the root certificates cannot be used: {e}"))
}

fn root_store(roots: &Roots) -> Result<RootCertStore, String> {
    let mut store = RootCertStore::empty();
    match roots {
        Roots::File(path) => {
            let pem = std::fs::read(path).map_err(|e| {
                format!(
                    "cannot read sslrootcert {}: {e}; give the CA certificate that signed the hub's \
                     certificate (a PEM file)",
                    path.display()
                )
            })?;
            let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&pem)
                .collect::<Result<_, _>>()
                .map_err(|e| format!("sslrootcert {} is not PEM: {e}", path.display()))?;
            if certs.is_empty() {
                return Err(format!(
                    "sslrootcert {} holds no certificate: give a PEM file with \
                     -----BEGIN CERTIFICATE-----",
                    path.display()
                ));
            }
            let (_, ignored) = store.add_parsable_certificates(certs);
            if store.is_empty() {
                return Err(format!(
                    "sslrootcert {}: none of its {ignored} certificates could be read",
                    path.display()
                ));
            }
        }
        Roots::System => {
            let found = rustls_native_certs::load_native_certs();
            store.add_parsable_certificates(found.certs);
            if store.is_empty() {
                return Err(
                    "this machine has no trusted root certificates: give the hub's CA with \
                     sslrootcert=FILE in the hub URL"
                        .into(),
                );
            }
        }
    }
    Ok(store)
}

/// Encrypts without checking the certificate, as libpq's `prefer` and `require` do; the
/// handshake signatures are still checked, so the session is bound to the key shown.
#[derive(Debug)]
struct AcceptAny(Arc<CryptoProvider>);

impl ServerCertVerifier for AcceptAny {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// `verify-ca`: the chain must lead to a trusted root; the name on the certificate may differ.
#[derive(Debug)]
struct ChainOnly(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for ChainOnly {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
        {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

/// The fix for a TLS failure, from rustls's own error when there is one.
pub fn failure_fix(error: &rustls::Error, mode: TlsMode) -> String {
    match error {
        rustls::Error::InvalidCertificate(
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
        ) => "the hub's certificate is for another host name: connect by a name the certificate \
              lists, or use sslmode=verify-ca"
            .into(),
        rustls::Error::InvalidCertificate(
            CertificateError::UnknownIssuer | CertificateError::BadSignature,
        ) => "the hub's certificate is not signed by the CA in sslrootcert: give the CA that \
              signed it (sslrootcert=FILE)"
            .into(),
        rustls::Error::InvalidCertificate(
            CertificateError::Expired | CertificateError::ExpiredContext { .. },
        ) => "the hub's certificate has expired: renew it on the hub".into(),
        _ => format!(
            "check the hub's TLS set-up, or connect with a weaker sslmode than {}",
            mode.name()
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_parse_as_libpq_names_them() {
        assert_eq!(TlsMode::parse("verify-full"), Ok(TlsMode::VerifyFull));
        assert_eq!(TlsMode::parse("allow"), Ok(TlsMode::Prefer));
        assert_eq!(TlsMode::VerifyCa.wire(), SslMode::Require);
        let e = TlsMode::parse("yes").unwrap_err();
        assert!(e.contains("verify-full"), "{e}");
    }

    #[test]
    fn root_files_are_checked_before_connecting() {
        let dir = tempfile::tempdir().unwrap();
        let missing = Roots::File(dir.path().join("nope.pem"));
        assert!(
            connector(TlsMode::VerifyFull, &missing)
                .err()
                .unwrap()
                .contains("cannot read sslrootcert")
        );
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "not a certificate").unwrap();
        let e = connector(TlsMode::VerifyCa, &Roots::File(empty))
            .err()
            .unwrap();
        assert!(e.contains("holds no certificate"), "{e}");
        // Encrypting without verifying needs no roots at all.
        assert!(connector(TlsMode::Require, &missing).unwrap().is_some());
        assert!(connector(TlsMode::Disable, &missing).unwrap().is_none());
    }
}
