//! The HTTP conformance suite against `custom-hyper`.
maintenance_tests::http_conformance_tests!(maintenance_tests::http::Server::Hyper);
