"""A recording's measurements as a TID 1500 Measurement Report (highdicom Comprehensive SR)."""

from __future__ import annotations

from highdicom import UID
from highdicom.sr import (
    AlgorithmIdentification,
    CodedConcept,
    ComprehensiveSR,
    DeviceObserverIdentifyingAttributes,
    FindingSite,
    Measurement,
    MeasurementReport,
    MeasurementsAndQualitativeEvaluations,
    ObservationContext,
    ObserverContext,
    QualitativeEvaluation,
    SourceImageForMeasurementGroup,
    TrackingIdentifier,
)
from pydicom.dataset import Dataset
from pydicom.sr.codedict import codes
from pydicom.valuerep import DS

from clinic.dicom import codes as c
from clinic.dicom.context import CHARACTER_SET, MANUFACTURER, StudyContext
from clinic.dicom.identity import tracking
from clinic.recording import Recording


def algorithm(recording: Recording) -> AlgorithmIdentification:
    """The model (file name from the session summary) and the tlfseg version that ran it."""
    from edge import __version__

    described = recording.model or "unknown model"
    name = described.split(":", 1)[0].strip()
    params = [described] + [f"mm_per_px={v:g}" for v in recording.log.mm_per_px]  # TEXT items: no length limit
    return AlgorithmIdentification(name=name, version=f"tlfseg {__version__}", parameters=params)


def count(name: CodedConcept, value: int) -> Measurement:
    """A number of frames, written as the whole number it is ("38", not highdicom's "38.0")."""
    item = Measurement(name, value, c.FRAMES)
    item[0].MeasuredValueSequence[0].NumericValue = DS(str(value))
    return item


def _group(recording: Recording, images: list[Dataset], ctx: StudyContext) -> MeasurementsAndQualitativeEvaluations:
    algo = algorithm(recording)
    t, e = recording.log.thickness(), recording.log.echogenicity()
    unit = c.MILLIMETRE if t.unit == "mm" else c.PIXEL
    measurements = []
    if t.median is not None:
        measurements += [
            Measurement(c.THICKNESS, t.median, unit, derivation=c.MEDIAN, algorithm_id=algo),
            Measurement(c.THICKNESS_IQR, round(t.iqr, 4), unit, algorithm_id=algo),
        ]
    if e.median is not None:
        measurements.append(Measurement(c.ECHOGENICITY, e.median, c.NO_UNITS, derivation=c.MEDIAN, algorithm_id=algo))
    measurements += [count(c.FRAMES_USED, t.used), count(c.FRAMES_FLAGGED, recording.log.flagged)]
    evaluations = [QualitativeEvaluation(c.flag(f), c.PRESENT) for f in sorted(recording.log.flag_counts)]
    sites = [FindingSite(c.FASCIA, laterality=c.SIDE[recording.side])] if recording.side else [FindingSite(c.FASCIA)]
    identifier, uid = tracking(ctx.patient, recording.side, c.FASCIA.meaning, ctx.study_instance_uid)
    group = MeasurementsAndQualitativeEvaluations(
        tracking_identifier=TrackingIdentifier(uid=uid, identifier=identifier),
        finding_type=c.FASCIA,
        algorithm_id=algo,
        finding_sites=sites,
        measurements=measurements,
        qualitative_evaluations=evaluations or None,
        source_images=[SourceImageForMeasurementGroup.from_source_image(im) for im in images] or None,
    )
    # SEPARATE, not highdicom's CONTINUOUS: each value is a statement of its own, which renderers (DCMTK's dsr2html)
    # then show with its concept name; CONTINUOUS runs them together as one sentence of bare numbers
    group[0].ContinuityOfContent = "SEPARATE"
    return group


def measurement_report(
    groups: list[tuple[Recording, list[Dataset]]], ctx: StudyContext, series_number: int, device_uid: str
) -> ComprehensiveSR:
    """One SR for one visit: a measurement group per recording (side), referencing its key frames."""
    observer = ObserverContext(
        observer_type=codes.DCM.Device,
        observer_identifying_attributes=DeviceObserverIdentifyingAttributes(
            uid=device_uid, name="tlfseg", manufacturer_name=MANUFACTURER
        ),
    )
    report = MeasurementReport(
        observation_context=ObservationContext(observer_device_context=observer),
        procedure_reported=c.PROCEDURE,
        imaging_measurements=[_group(rec, images, ctx) for rec, images in groups],
    )
    evidence = [im for _, images in groups for im in images]
    sr = ComprehensiveSR(
        evidence=evidence,
        content=report,
        series_instance_uid=UID(),
        series_number=series_number,
        sop_instance_uid=UID(),
        instance_number=1,
        manufacturer=MANUFACTURER,
        specific_character_set=CHARACTER_SET,
        institution_name=ctx.patient.institution_name,
        is_complete=True,
        coding_schemes=[c.SCHEME_ITEM],
    )
    sr.SeriesDescription = "tlfseg fascia measurements"
    if ctx.patient.study_description:
        sr.StudyDescription = ctx.patient.study_description
    return sr
