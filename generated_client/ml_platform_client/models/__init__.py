"""Contains all the data models used in inputs/outputs.

Each model's module is imported on first use (PEP 562 ``__getattr__``): importing the package, or one
model, does not import the other hundred modules.
"""

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .admin_get_secure_token_request import AdminGetSecureTokenRequest
    from .admin_get_secure_token_response import AdminGetSecureTokenResponse
    from .change_type import ChangeType
    from .create_model_request import CreateModelRequest
    from .create_model_response import CreateModelResponse
    from .create_model_result import CreateModelResult
    from .create_perf_job_request import CreatePerfJobRequest
    from .create_perf_job_response import CreatePerfJobResponse
    from .create_service_request import CreateServiceRequest
    from .create_time_sort_by import CreateTimeSortBy
    from .created_version import CreatedVersion
    from .env import Env
    from .error_info import ErrorInfo
    from .error_response import ErrorResponse
    from .error_response_metadata import ErrorResponseMetadata
    from .flavor import Flavor
    from .get_model_next_version_request import GetModelNextVersionRequest
    from .get_model_next_version_response import GetModelNextVersionResponse
    from .get_model_response import GetModelResponse
    from .get_model_version_response import GetModelVersionResponse
    from .get_service_response import GetServiceResponse
    from .get_sts_token_request import GetSTSTokenRequest
    from .get_sts_token_response import GetSTSTokenResponse
    from .get_tos_upload_path_request import GetTOSUploadPathRequest
    from .get_tos_upload_path_request_service_name import GetTOSUploadPathRequestServiceName
    from .get_tos_upload_path_response import GetTOSUploadPathResponse
    from .inner_create_model_request import InnerCreateModelRequest
    from .inner_version_info import InnerVersionInfo
    from .job_id_request import JobIDRequest
    from .job_id_response import JobIDResponse
    from .job_id_result import JobIDResult
    from .job_params import JobParams
    from .job_type import JobType
    from .list_model_versions_request import ListModelVersionsRequest
    from .list_model_versions_response import ListModelVersionsResponse
    from .list_model_versions_result import ListModelVersionsResult
    from .list_model_versions_sort_by import ListModelVersionsSortBy
    from .list_models_request import ListModelsRequest
    from .list_models_response import ListModelsResponse
    from .list_models_result import ListModelsResult
    from .list_models_sort_by import ListModelsSortBy
    from .list_perf_jobs_request import ListPerfJobsRequest
    from .list_perf_jobs_response import ListPerfJobsResponse
    from .list_perf_jobs_result import ListPerfJobsResult
    from .list_perf_tasks_request import ListPerfTasksRequest
    from .list_perf_tasks_response import ListPerfTasksResponse
    from .list_perf_tasks_result import ListPerfTasksResult
    from .list_resource_request import ListResourceRequest
    from .list_resource_response import ListResourceResponse
    from .list_resource_result import ListResourceResult
    from .list_resource_result_list import ListResourceResultList
    from .list_resource_sort_by import ListResourceSortBy
    from .list_services_request import ListServicesRequest
    from .list_services_response import ListServicesResponse
    from .list_services_result import ListServicesResult
    from .metrics import Metrics
    from .metrics_type import MetricsType
    from .model_category import ModelCategory
    from .model_format import ModelFormat
    from .model_id_request import ModelIDRequest
    from .model_id_response import ModelIDResponse
    from .model_id_result import ModelIDResult
    from .model_next_version_result import ModelNextVersionResult
    from .model_summary import ModelSummary
    from .model_tag import ModelTag
    from .model_tensor_config import ModelTensorConfig
    from .model_version import ModelVersion
    from .model_version_id_request import ModelVersionIDRequest
    from .model_version_id_response import ModelVersionIDResponse
    from .model_version_id_result import ModelVersionIDResult
    from .perf_job import PerfJob
    from .perf_task import PerfTask
    from .perf_task_result import PerfTaskResult
    from .perf_tensor import PerfTensor
    from .perf_tensor_config import PerfTensorConfig
    from .perf_tensor_d_type import PerfTensorDType
    from .perf_tensor_shape import PerfTensorShape
    from .response_metadata import ResponseMetadata
    from .secure_token_result import SecureTokenResult
    from .service import Service
    from .service_deployment import ServiceDeployment
    from .service_deployment_request import ServiceDeploymentRequest
    from .service_id_request import ServiceIDRequest
    from .service_id_response import ServiceIDResponse
    from .service_id_result import ServiceIDResult
    from .service_model import ServiceModel
    from .service_model_ref import ServiceModelRef
    from .service_status import ServiceStatus
    from .sort_order import SortOrder
    from .source_type import SourceType
    from .stored_tensor import StoredTensor
    from .stored_tensor_config import StoredTensorConfig
    from .stored_tensor_shape import StoredTensorShape
    from .sts_token_result import STSTokenResult
    from .task_args import TaskArgs
    from .task_id_request import TaskIDRequest
    from .task_id_response import TaskIDResponse
    from .task_id_result import TaskIDResult
    from .task_status import TaskStatus
    from .tensor import Tensor
    from .tensor_d_type import TensorDType
    from .tos_upload_path_result import TOSUploadPathResult
    from .update_model_request import UpdateModelRequest
    from .update_model_version_request import UpdateModelVersionRequest
    from .update_perf_task_request import UpdatePerfTaskRequest
    from .update_service_request import UpdateServiceRequest
    from .version_info import VersionInfo

# public name -> the submodule that defines it
_MODULES = {
    "AdminGetSecureTokenRequest": ".admin_get_secure_token_request",
    "AdminGetSecureTokenResponse": ".admin_get_secure_token_response",
    "ChangeType": ".change_type",
    "CreateModelRequest": ".create_model_request",
    "CreateModelResponse": ".create_model_response",
    "CreateModelResult": ".create_model_result",
    "CreatePerfJobRequest": ".create_perf_job_request",
    "CreatePerfJobResponse": ".create_perf_job_response",
    "CreateServiceRequest": ".create_service_request",
    "CreateTimeSortBy": ".create_time_sort_by",
    "CreatedVersion": ".created_version",
    "Env": ".env",
    "ErrorInfo": ".error_info",
    "ErrorResponse": ".error_response",
    "ErrorResponseMetadata": ".error_response_metadata",
    "Flavor": ".flavor",
    "GetModelNextVersionRequest": ".get_model_next_version_request",
    "GetModelNextVersionResponse": ".get_model_next_version_response",
    "GetModelResponse": ".get_model_response",
    "GetModelVersionResponse": ".get_model_version_response",
    "GetServiceResponse": ".get_service_response",
    "GetSTSTokenRequest": ".get_sts_token_request",
    "GetSTSTokenResponse": ".get_sts_token_response",
    "GetTOSUploadPathRequest": ".get_tos_upload_path_request",
    "GetTOSUploadPathRequestServiceName": ".get_tos_upload_path_request_service_name",
    "GetTOSUploadPathResponse": ".get_tos_upload_path_response",
    "InnerCreateModelRequest": ".inner_create_model_request",
    "InnerVersionInfo": ".inner_version_info",
    "JobIDRequest": ".job_id_request",
    "JobIDResponse": ".job_id_response",
    "JobIDResult": ".job_id_result",
    "JobParams": ".job_params",
    "JobType": ".job_type",
    "ListModelVersionsRequest": ".list_model_versions_request",
    "ListModelVersionsResponse": ".list_model_versions_response",
    "ListModelVersionsResult": ".list_model_versions_result",
    "ListModelVersionsSortBy": ".list_model_versions_sort_by",
    "ListModelsRequest": ".list_models_request",
    "ListModelsResponse": ".list_models_response",
    "ListModelsResult": ".list_models_result",
    "ListModelsSortBy": ".list_models_sort_by",
    "ListPerfJobsRequest": ".list_perf_jobs_request",
    "ListPerfJobsResponse": ".list_perf_jobs_response",
    "ListPerfJobsResult": ".list_perf_jobs_result",
    "ListPerfTasksRequest": ".list_perf_tasks_request",
    "ListPerfTasksResponse": ".list_perf_tasks_response",
    "ListPerfTasksResult": ".list_perf_tasks_result",
    "ListResourceRequest": ".list_resource_request",
    "ListResourceResponse": ".list_resource_response",
    "ListResourceResult": ".list_resource_result",
    "ListResourceResultList": ".list_resource_result_list",
    "ListResourceSortBy": ".list_resource_sort_by",
    "ListServicesRequest": ".list_services_request",
    "ListServicesResponse": ".list_services_response",
    "ListServicesResult": ".list_services_result",
    "Metrics": ".metrics",
    "MetricsType": ".metrics_type",
    "ModelCategory": ".model_category",
    "ModelFormat": ".model_format",
    "ModelIDRequest": ".model_id_request",
    "ModelIDResponse": ".model_id_response",
    "ModelIDResult": ".model_id_result",
    "ModelNextVersionResult": ".model_next_version_result",
    "ModelSummary": ".model_summary",
    "ModelTag": ".model_tag",
    "ModelTensorConfig": ".model_tensor_config",
    "ModelVersion": ".model_version",
    "ModelVersionIDRequest": ".model_version_id_request",
    "ModelVersionIDResponse": ".model_version_id_response",
    "ModelVersionIDResult": ".model_version_id_result",
    "PerfJob": ".perf_job",
    "PerfTask": ".perf_task",
    "PerfTaskResult": ".perf_task_result",
    "PerfTensor": ".perf_tensor",
    "PerfTensorConfig": ".perf_tensor_config",
    "PerfTensorDType": ".perf_tensor_d_type",
    "PerfTensorShape": ".perf_tensor_shape",
    "ResponseMetadata": ".response_metadata",
    "SecureTokenResult": ".secure_token_result",
    "Service": ".service",
    "ServiceDeployment": ".service_deployment",
    "ServiceDeploymentRequest": ".service_deployment_request",
    "ServiceIDRequest": ".service_id_request",
    "ServiceIDResponse": ".service_id_response",
    "ServiceIDResult": ".service_id_result",
    "ServiceModel": ".service_model",
    "ServiceModelRef": ".service_model_ref",
    "ServiceStatus": ".service_status",
    "SortOrder": ".sort_order",
    "SourceType": ".source_type",
    "StoredTensor": ".stored_tensor",
    "StoredTensorConfig": ".stored_tensor_config",
    "StoredTensorShape": ".stored_tensor_shape",
    "STSTokenResult": ".sts_token_result",
    "TaskArgs": ".task_args",
    "TaskIDRequest": ".task_id_request",
    "TaskIDResponse": ".task_id_response",
    "TaskIDResult": ".task_id_result",
    "TaskStatus": ".task_status",
    "Tensor": ".tensor",
    "TensorDType": ".tensor_d_type",
    "TOSUploadPathResult": ".tos_upload_path_result",
    "UpdateModelRequest": ".update_model_request",
    "UpdateModelVersionRequest": ".update_model_version_request",
    "UpdatePerfTaskRequest": ".update_perf_task_request",
    "UpdateServiceRequest": ".update_service_request",
    "VersionInfo": ".version_info",
}


def __getattr__(name: str) -> Any:
    module = _MODULES.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(module, __name__), name)
    globals()[name] = value  # later lookups skip __getattr__
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_MODULES})


__all__ = (
    "AdminGetSecureTokenRequest",
    "AdminGetSecureTokenResponse",
    "ChangeType",
    "CreatedVersion",
    "CreateModelRequest",
    "CreateModelResponse",
    "CreateModelResult",
    "CreatePerfJobRequest",
    "CreatePerfJobResponse",
    "CreateServiceRequest",
    "CreateTimeSortBy",
    "Env",
    "ErrorInfo",
    "ErrorResponse",
    "ErrorResponseMetadata",
    "Flavor",
    "GetModelNextVersionRequest",
    "GetModelNextVersionResponse",
    "GetModelResponse",
    "GetModelVersionResponse",
    "GetServiceResponse",
    "GetSTSTokenRequest",
    "GetSTSTokenResponse",
    "GetTOSUploadPathRequest",
    "GetTOSUploadPathRequestServiceName",
    "GetTOSUploadPathResponse",
    "InnerCreateModelRequest",
    "InnerVersionInfo",
    "JobIDRequest",
    "JobIDResponse",
    "JobIDResult",
    "JobParams",
    "JobType",
    "ListModelsRequest",
    "ListModelsResponse",
    "ListModelsResult",
    "ListModelsSortBy",
    "ListModelVersionsRequest",
    "ListModelVersionsResponse",
    "ListModelVersionsResult",
    "ListModelVersionsSortBy",
    "ListPerfJobsRequest",
    "ListPerfJobsResponse",
    "ListPerfJobsResult",
    "ListPerfTasksRequest",
    "ListPerfTasksResponse",
    "ListPerfTasksResult",
    "ListResourceRequest",
    "ListResourceResponse",
    "ListResourceResult",
    "ListResourceResultList",
    "ListResourceSortBy",
    "ListServicesRequest",
    "ListServicesResponse",
    "ListServicesResult",
    "Metrics",
    "MetricsType",
    "ModelCategory",
    "ModelFormat",
    "ModelIDRequest",
    "ModelIDResponse",
    "ModelIDResult",
    "ModelNextVersionResult",
    "ModelSummary",
    "ModelTag",
    "ModelTensorConfig",
    "ModelVersion",
    "ModelVersionIDRequest",
    "ModelVersionIDResponse",
    "ModelVersionIDResult",
    "PerfJob",
    "PerfTask",
    "PerfTaskResult",
    "PerfTensor",
    "PerfTensorConfig",
    "PerfTensorDType",
    "PerfTensorShape",
    "ResponseMetadata",
    "SecureTokenResult",
    "Service",
    "ServiceDeployment",
    "ServiceDeploymentRequest",
    "ServiceIDRequest",
    "ServiceIDResponse",
    "ServiceIDResult",
    "ServiceModel",
    "ServiceModelRef",
    "ServiceStatus",
    "SortOrder",
    "SourceType",
    "StoredTensor",
    "StoredTensorConfig",
    "StoredTensorShape",
    "STSTokenResult",
    "TaskArgs",
    "TaskIDRequest",
    "TaskIDResponse",
    "TaskIDResult",
    "TaskStatus",
    "Tensor",
    "TensorDType",
    "TOSUploadPathResult",
    "UpdateModelRequest",
    "UpdateModelVersionRequest",
    "UpdatePerfTaskRequest",
    "UpdateServiceRequest",
    "VersionInfo",
)
