//! [`detente_log::Storage`] on object storage, through the `object_store` crate:
//! S3-compatible services for logs that outgrow one machine ([`ObjectStorage::s3`]), and
//! read-only HTTP for verifying a log served as static files ([`ObjectStorage::http`]).
//!
//! # Durability
//!
//! An S3 `PUT` is atomic (readers see the old or the new object, never a mix) and durable
//! once acknowledged, which is what the `Storage` contract asks. `put_batch` issues its puts
//! concurrently and returns when all are acknowledged. One writer per log, as for every
//! backend.

use std::io;
use std::sync::Arc;

use futures::TryStreamExt;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};

/// A log stored in an object store, under a key prefix.
pub struct ObjectStorage {
    store: Arc<dyn ObjectStore>,
    prefix: String,
    rt: tokio::runtime::Runtime,
}

/// Where an S3-compatible log lives.
#[derive(Clone, Debug)]
pub struct S3Config {
    /// Endpoint URL, e.g. `https://s3.example.org` or `http://127.0.0.1:9000`.
    pub endpoint: String,
    /// Bucket name.
    pub bucket: String,
    /// Region (any value for most non-AWS services).
    pub region: String,
    /// Access key id.
    pub access_key_id: String,
    /// Secret access key.
    pub secret_access_key: String,
    /// Key prefix for the log's objects (empty: the bucket root).
    pub prefix: String,
}

fn io_err(e: object_store::Error) -> io::Error {
    io::Error::other(e.to_string())
}

impl ObjectStorage {
    fn new(store: Arc<dyn ObjectStore>, prefix: &str) -> io::Result<ObjectStorage> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        Ok(ObjectStorage {
            store,
            prefix: prefix.trim_matches('/').to_string(),
            rt,
        })
    }

    /// An S3-compatible bucket.
    pub fn s3(cfg: &S3Config) -> io::Result<ObjectStorage> {
        let store = object_store::aws::AmazonS3Builder::new()
            .with_endpoint(&cfg.endpoint)
            .with_bucket_name(&cfg.bucket)
            .with_region(&cfg.region)
            .with_access_key_id(&cfg.access_key_id)
            .with_secret_access_key(&cfg.secret_access_key)
            .with_allow_http(cfg.endpoint.starts_with("http://"))
            .build()
            .map_err(io_err)?;
        Self::new(Arc::new(store), &cfg.prefix)
    }

    /// A log served over HTTP(S) as static files under `base_url` (read-only: `get` only).
    pub fn http(base_url: &str) -> io::Result<ObjectStorage> {
        let options =
            object_store::ClientOptions::new().with_allow_http(base_url.starts_with("http://"));
        let store = object_store::http::HttpBuilder::new()
            .with_url(base_url.trim_end_matches('/'))
            .with_client_options(options)
            .build()
            .map_err(io_err)?;
        Self::new(Arc::new(store), "")
    }

    fn path(&self, key: &str) -> Path {
        if self.prefix.is_empty() {
            Path::from(key)
        } else {
            Path::from(format!("{}/{key}", self.prefix))
        }
    }

    fn key_of(&self, p: &Path) -> String {
        let s = p.as_ref();
        if self.prefix.is_empty() {
            s.to_string()
        } else {
            s.strip_prefix(&format!("{}/", self.prefix))
                .unwrap_or(s)
                .to_string()
        }
    }
}

impl detente_log::Storage for ObjectStorage {
    fn get(&self, key: &str) -> io::Result<Option<Vec<u8>>> {
        let path = self.path(key);
        self.rt.block_on(async {
            match self.store.get(&path).await {
                Ok(r) => Ok(Some(r.bytes().await.map_err(io_err)?.to_vec())),
                Err(object_store::Error::NotFound { .. }) => Ok(None),
                Err(e) => Err(io_err(e)),
            }
        })
    }

    fn put(&self, key: &str, data: &[u8]) -> io::Result<()> {
        let path = self.path(key);
        let payload = PutPayload::from(data.to_vec());
        self.rt
            .block_on(self.store.put(&path, payload))
            .map(|_| ())
            .map_err(io_err)
    }

    fn put_batch(&self, objects: &[(String, Vec<u8>)]) -> io::Result<()> {
        let store = &self.store;
        let puts = objects.iter().map(|(k, d)| {
            let path = self.path(k);
            let payload = PutPayload::from(d.clone());
            async move { store.put(&path, payload).await.map(|_| ()) }
        });
        self.rt
            .block_on(futures::future::try_join_all(puts))
            .map(|_| ())
            .map_err(io_err)
    }

    fn list(&self, prefix: &str) -> io::Result<Vec<String>> {
        let dir = self.path(prefix.trim_end_matches('/'));
        let metas: Vec<object_store::ObjectMeta> = self
            .rt
            .block_on(self.store.list(Some(&dir)).try_collect())
            .map_err(io_err)?;
        let mut keys: Vec<String> = metas.iter().map(|m| self.key_of(&m.location)).collect();
        keys.retain(|k| k.starts_with(prefix));
        keys.sort();
        Ok(keys)
    }

    fn delete(&self, key: &str) -> io::Result<()> {
        let path = self.path(key);
        match self.rt.block_on(self.store.delete(&path)) {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(io_err(e)),
        }
    }
}
