-- A local platform database as release 0.1.0 (commit 6dd6c15, before Alembic) wrote it.
-- Made by creating accounts, models, versions, metrics, a perf job and a service through that release's Store.
BEGIN TRANSACTION;
CREATE TABLE access_keys (
	ak VARCHAR(128) NOT NULL, 
	sk VARCHAR(256) NOT NULL, 
	account_id BIGINT NOT NULL, 
	user_id BIGINT NOT NULL, 
	is_admin BOOLEAN NOT NULL, 
	created DATETIME NOT NULL, 
	PRIMARY KEY (ak), 
	FOREIGN KEY(account_id) REFERENCES accounts (account_id) ON DELETE CASCADE
);
INSERT INTO "access_keys" VALUES('AKLTlegacy','c2VjcmV0LWxlZ2FjeQ==',2100000001,1,1,'2021-08-12 07:07:50.000000');
INSERT INTO "access_keys" VALUES('AKLTteam','dGVhbS1zZWNyZXQ=',2100000050,1,0,'2021-08-12 07:07:50.000000');
CREATE TABLE accounts (
	account_id BIGINT NOT NULL, 
	user_id BIGINT NOT NULL, 
	name VARCHAR(255) NOT NULL, 
	is_admin BOOLEAN NOT NULL, 
	created DATETIME NOT NULL, 
	PRIMARY KEY (account_id)
);
INSERT INTO "accounts" VALUES(2100000001,1,'default',1,'2021-08-12 07:07:50.000000');
INSERT INTO "accounts" VALUES(2100000050,1,'team',0,'2021-08-12 07:07:50.000000');
CREATE TABLE model_versions (
	id VARCHAR(96) NOT NULL, 
	model_id VARCHAR(64) NOT NULL, 
	account_id BIGINT NOT NULL, 
	version INTEGER NOT NULL, 
	model_format VARCHAR(64) NOT NULL, 
	model_type VARCHAR(128) NOT NULL, 
	path TEXT NOT NULL, 
	source_type VARCHAR(32) NOT NULL, 
	description TEXT NOT NULL, 
	tensor_config JSON, 
	metrics_list JSON, 
	model_tags JSON, 
	base_model_version_id VARCHAR(96), 
	source_id VARCHAR(64), 
	dataset_id VARCHAR(255), 
	create_time DATETIME NOT NULL, 
	PRIMARY KEY (id), 
	CONSTRAINT uq_model_versions_model_version UNIQUE (model_id, version), 
	FOREIGN KEY(model_id) REFERENCES models (id) ON DELETE CASCADE
);
INSERT INTO "model_versions" VALUES('m-20210812070751-2tkbw-1','m-20210812070751-2tkbw',2100000050,1,'ONNX','ONNX:1.23','tos://bucket/resnet/1/','TOS','first','{"Inputs": [{"TensorName": "x", "DType": "FLOAT", "Shape": {"MinShape": [1, 4], "MaxShape": [8, 4]}}], "Outputs": []}','[{"MetricsType": "Accuracy", "Params": "{\"split\": \"val\"}", "MetricsData": "{\"top1\": 0.76}"}]','null',NULL,NULL,NULL,'2021-08-12 07:07:51.000000');
INSERT INTO "model_versions" VALUES('m-20210812070751-2tkbw-2','m-20210812070751-2tkbw',2100000050,2,'SavedModel','TensorFlow:2.4','tos://bucket/resnet/2/','TOS','','null','null','null',NULL,NULL,NULL,'2021-08-12 07:07:52.000000');
INSERT INTO "model_versions" VALUES('m-20210812070753-3l26h-1','m-20210812070753-3l26h',2100000051,1,'SavedModel','TensorFlow:2.4','tos://b/other/1/','TOS','','null','null','null',NULL,NULL,NULL,'2021-08-12 07:07:53.000000');
CREATE TABLE models (
	id VARCHAR(64) NOT NULL, 
	account_id BIGINT NOT NULL, 
	name VARCHAR(255) NOT NULL, 
	category VARCHAR(64), 
	dataset_id VARCHAR(255), 
	next_version INTEGER NOT NULL, 
	create_time DATETIME NOT NULL, 
	PRIMARY KEY (id)
);
INSERT INTO "models" VALUES('m-20210812070751-2tkbw',2100000050,'resnet',NULL,NULL,3,'2021-08-12 07:07:51.000000');
INSERT INTO "models" VALUES('m-20210812070753-3l26h',2100000051,'other',NULL,NULL,2,'2021-08-12 07:07:53.000000');
CREATE TABLE perf_jobs (
	id VARCHAR(64) NOT NULL, 
	account_id BIGINT NOT NULL, 
	model_version_id VARCHAR(96) NOT NULL, 
	job_type VARCHAR(32) NOT NULL, 
	tensor_config JSON NOT NULL, 
	tensor_config_id VARCHAR(64) NOT NULL, 
	job_params JSON NOT NULL, 
	create_time DATETIME NOT NULL, 
	PRIMARY KEY (id)
);
INSERT INTO "perf_jobs" VALUES('pj-20210812070754-jhfr2',2100000050,'m-20210812070751-2tkbw-1','PERF_ONLY','{"Inputs": [{"TensorName": "input:0", "DType": "FLOAT", "Shape": {"MinShape": [1, 28, 28, 1], "MaxShape": [8, 28, 28, 1]}}]}','t-20210812070754-qeksq','[{"FlavorIDList": ["ml.c1i.large", "ml.g1e.large"]}]','2021-08-12 07:07:54.000000');
CREATE TABLE perf_tasks (
	id VARCHAR(64) NOT NULL, 
	job_id VARCHAR(64) NOT NULL, 
	account_id BIGINT NOT NULL, 
	model_version_id VARCHAR(96) NOT NULL, 
	task_type VARCHAR(32) NOT NULL, 
	flavor_id VARCHAR(64) NOT NULL, 
	convert_type VARCHAR(64) NOT NULL, 
	convert_precision VARCHAR(64) NOT NULL, 
	status VARCHAR(16) NOT NULL, 
	result_json JSON, 
	message TEXT, 
	create_time DATETIME NOT NULL, 
	update_time DATETIME NOT NULL, 
	PRIMARY KEY (id), 
	FOREIGN KEY(job_id) REFERENCES perf_jobs (id) ON DELETE CASCADE
);
INSERT INTO "perf_tasks" VALUES('pf-20210812070754-85byo','pj-20210812070754-jhfr2',2100000050,'m-20210812070751-2tkbw-1','PERF_ONLY','ml.c1i.large','base','base','Submitted',NULL,NULL,'2021-08-12 07:07:54.000000','2021-08-12 07:07:54.000000');
INSERT INTO "perf_tasks" VALUES('pf-20210812070754-t205r','pj-20210812070754-jhfr2',2100000050,'m-20210812070751-2tkbw-1','PERF_ONLY','ml.g1e.large','base','base','Submitted',NULL,NULL,'2021-08-12 07:07:54.000000','2021-08-12 07:07:54.000000');
CREATE TABLE services (
	id VARCHAR(64) NOT NULL, 
	account_id BIGINT NOT NULL, 
	name VARCHAR(255) NOT NULL, 
	service_version_id VARCHAR(64) NOT NULL, 
	model_id VARCHAR(64) NOT NULL, 
	model_version_id VARCHAR(96) NOT NULL, 
	model_version INTEGER NOT NULL, 
	model_type VARCHAR(128) NOT NULL, 
	model_path TEXT NOT NULL, 
	model_name VARCHAR(255) NOT NULL, 
	flavor_id VARCHAR(64) NOT NULL, 
	image_id TEXT NOT NULL, 
	envs JSON NOT NULL, 
	replicas INTEGER NOT NULL, 
	description TEXT NOT NULL, 
	status VARCHAR(16) NOT NULL, 
	endpoint_url TEXT NOT NULL, 
	create_time DATETIME NOT NULL, 
	update_time DATETIME NOT NULL, 
	PRIMARY KEY (id), 
	CONSTRAINT uq_services_account_name UNIQUE (account_id, name)
);
INSERT INTO "services" VALUES('s-20210812070755-pbwyo',2100000050,'resnet-svc','sv-20210812070755-xvdd1','m-20210812070751-2tkbw','m-20210812070751-2tkbw-2',2,'TensorFlow:2.4','tos://bucket/resnet/2/','resnet','ml.g1e.large','machinelearning/tfserving:tf-cuda10.1','[{"Name": "A", "Value": "1"}]',1,'','Pending','','2021-08-12 07:07:55.000000','2021-08-12 07:07:55.000000');
CREATE INDEX ix_models_account_name ON models (account_id, name, create_time, id);
CREATE INDEX ix_models_account_time ON models (account_id, create_time, id);
CREATE INDEX ix_perf_jobs_account_time ON perf_jobs (account_id, create_time, id);
CREATE INDEX ix_perf_jobs_account_version ON perf_jobs (account_id, model_version_id);
CREATE INDEX ix_services_account_time ON services (account_id, create_time, id);
CREATE INDEX ix_model_versions_model_time ON model_versions (model_id, create_time, version);
CREATE INDEX ix_perf_tasks_job_status ON perf_tasks (job_id, status);
CREATE INDEX ix_perf_tasks_status_time ON perf_tasks (status, create_time, id);
CREATE INDEX ix_perf_tasks_account_time ON perf_tasks (account_id, create_time, id);
CREATE INDEX ix_access_keys_account ON access_keys (account_id);
COMMIT;
